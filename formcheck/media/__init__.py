"""Pixels and files: the pose model, video I/O, drawing. The only layer that imports mediapipe/cv2/av."""
