"""Picture-size limits shared by every path that takes pictures from outside: uploaded videos (the probe),
live JPEG frames and live landmark messages. One definition here (the lowest layer that decodes pictures)."""

# Larger pictures cost memory and CPU and buy nothing: the pose model resizes to 256 px, and a phone's 1080p
# video is 1920 px on its long side. A 1.6 MB file can declare 16000x16000 px (~770 MB a decoded frame).
MAX_FRAME_SIDE_PX = 1920
# Smaller pictures hold no person the model can find (a 1x1 px video otherwise fails deep inside the analysis).
MIN_FRAME_SIDE_PX = 16
