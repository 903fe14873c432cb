"""The analysis core's former single module, kept as names only while the branches of the restructuring merge.

The code lives in core.results (the result types), core.judging (shared judging), core.offline (a recorded
clip) and core.live (frame by frame); import from those. `analyze_video` moved to formcheck.pipeline.
"""

from __future__ import annotations

from formcheck.core.judging import rep_yaw, view_of_yaw, viewpoint_of, views_of
from formcheck.core.live import LiveSession
from formcheck.core.offline import analyze_seq
from formcheck.core.results import (
    ALGO_VERSION,
    Fault,
    HoldResult,
    LiveFeedback,
    Message,
    Rep,
    SetResult,
    Verdict,
)

__all__ = [
    "ALGO_VERSION",
    "Fault",
    "HoldResult",
    "LiveFeedback",
    "LiveSession",
    "Message",
    "Rep",
    "SetResult",
    "Verdict",
    "analyze_seq",
    "rep_yaw",
    "view_of_yaw",
    "viewpoint_of",
    "views_of",
]
