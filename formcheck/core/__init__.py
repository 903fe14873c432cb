"""Pure analysis: numpy + pydantic only, no I/O, no mediapipe, no web."""
