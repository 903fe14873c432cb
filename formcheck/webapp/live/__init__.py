"""Live coaching: the /live page, its day-flow API and the /ws/live WebSocket (one module per concern).

protocol (every wire message, the limits) · connection (one socket: reader, processor, frames) · replies (a
frame's reply fields) · coach (the countdown gate and the one coach message) · recorder (sets and reps into the
store) · clips (flagged-rep clips) · landmark_msgs (browser pose input) · browser_pose (its config and files) ·
jpeg_header · exercise_demo · routes (page, REST, WebSocket).
"""

from formcheck.webapp.live.protocol import MAX_FRAME_BYTES
from formcheck.webapp.live.recorder import person_rule_overrides, programme_service
from formcheck.webapp.live.routes import router

__all__ = ["MAX_FRAME_BYTES", "person_rule_overrides", "programme_service", "router"]
