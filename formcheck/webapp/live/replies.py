"""What a frame turns into on the wire: decoded image, landmarks, key angles, the analysis' and coach's part.

Pure functions over the analysis' own types (formcheck.core.results / formcheck.webapp.live.coach): the
connection calls them in its pose thread and wraps the result in a protocol.FrameReply.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from formcheck.core.feedback import GUIDANCE_TEXT
from formcheck.core.geometry import angle_at_deg
from formcheck.core.landmarks import Lm
from formcheck.core.results import LiveFeedback, Rep
from formcheck.core.types import PoseFrame
from formcheck.media.frame_limits import MIN_FRAME_SIDE_PX
from formcheck.webapp.live.coach import Frame
from formcheck.webapp.live.jpeg_header import MAX_JPEG_SCANS, jpeg_scan_count, jpeg_size_px
from formcheck.webapp.live.protocol import MAX_FRAME_SIDE_PX, KeyAngle, ProtocolError, StartSet

LANDMARK_DECIMALS = 4  # 1e-4 of a 640 px frame = 0.06 px: plenty for drawing, keeps replies ~2 kB

# Key angles shown on the overlay: (label, landmark the label sits at).
ANGLE_LABELS: tuple[tuple[str, Lm, Lm, Lm], ...] = (
    ("knee", Lm.LEFT_HIP, Lm.LEFT_KNEE, Lm.LEFT_ANKLE),
    ("knee", Lm.RIGHT_HIP, Lm.RIGHT_KNEE, Lm.RIGHT_ANKLE),
    ("hip", Lm.LEFT_SHOULDER, Lm.LEFT_HIP, Lm.LEFT_KNEE),
    ("hip", Lm.RIGHT_SHOULDER, Lm.RIGHT_HIP, Lm.RIGHT_KNEE),
)


def decode_jpeg(jpeg: bytes) -> np.ndarray:
    """BGR image of a JPEG; ProtocolError for a corrupt or oversized image (runs in a worker thread)."""
    import cv2

    size = jpeg_size_px(jpeg)  # from the header, before decoding: a tiny file can declare a huge picture
    if size is None:
        raise ProtocolError("bad_frame", "not a JPEG image (no frame header)")
    if max(size) > MAX_FRAME_SIDE_PX:
        raise ProtocolError(
            "bad_frame", f"image of {size[0]}x{size[1]} px is larger than {MAX_FRAME_SIDE_PX} px: send 640x480"
        )
    scans = jpeg_scan_count(jpeg)
    if scans > MAX_JPEG_SCANS:
        raise ProtocolError(
            "bad_frame",
            f"JPEG with {scans} scans; the limit is {MAX_JPEG_SCANS}: send a baseline (non-progressive) JPEG",
        )
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.ndim != 3 or min(bgr.shape[:2]) < MIN_FRAME_SIDE_PX:
        raise ProtocolError("bad_frame", "the image could not be decoded")
    if max(bgr.shape[:2]) > MAX_FRAME_SIDE_PX:
        raise ProtocolError("bad_frame", f"image larger than {MAX_FRAME_SIDE_PX} px: send 640x480")
    return bgr


def rounded(v: float | None, nd: int = 1) -> float | None:
    """`v` rounded to `nd` decimals; None for None, NaN and inf (JSON has no NaN)."""
    return round(float(v), nd) if v is not None and math.isfinite(float(v)) else None


def landmarks_json(pf: PoseFrame) -> list[list[float | None]] | None:
    """33 x [x, y, visibility] with x, y normalised to the frame (null where unknown); None without a person."""
    if not pf.detected:
        return None
    w, h = pf.frame_wh
    xy = pf.xyz_px[:, :2] / np.array([w, h], dtype=np.float64)
    out: list[list[float | None]] = []
    for (x, y), vis in zip(xy, pf.visibility, strict=True):
        ok = math.isfinite(x) and math.isfinite(y)
        out.append(
            [
                round(float(x), LANDMARK_DECIMALS) if ok else None,
                round(float(y), LANDMARK_DECIMALS) if ok else None,
                round(float(vis), 2),
            ]
        )
    return out


def key_angles(pf: PoseFrame) -> list[KeyAngle]:
    """Knee and hip flexion (0 = straight) at visible joints, for the overlay's labels."""
    if not pf.detected:
        return []
    xy = pf.xy_px
    out = []
    for label, a, b, c in ANGLE_LABELS:
        deg = 180.0 - float(angle_at_deg(xy[a], xy[b], xy[c]))
        if math.isfinite(deg):
            out.append(KeyAngle(label=label, at=int(b), flexion_deg=round(deg)))
    return out


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, enums, numpy values and tuples → plain JSON values (NaN → null)."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return rounded(float(obj), 3)
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "value"):  # enums
        return to_jsonable(obj.value)
    return str(obj)


def finite_metrics(*maps: Mapping[str, float] | None) -> dict[str, float]:
    """The finite values of `maps`, merged and rounded to 3 decimals (NaN and None dropped)."""
    out: dict[str, float] = {}
    for m in maps:
        for k, v in (m or {}).items():
            if v is not None and math.isfinite(float(v)):
                out[str(k)] = round(float(v), 3)
    return out


def rep_json(rep: Rep) -> dict[str, Any]:
    """A counted rep for the page: index (1-based), verdict and why, side, times, faults with their cues."""
    return {
        "index": int(rep.index),
        "valid": bool(rep.valid),
        "verdict": str(rep.verdict),
        "why": rep.why,
        "side": rep.side,
        "start_s": rounded(rep.start_s, 3),
        "bottom_s": rounded(rep.bottom_s, 3),
        "end_s": rounded(rep.end_s, 3),
        "view": str(rep.view),
        "faults": [
            {
                "rule": f.rule,
                "value": rounded(f.value, 2),
                "threshold": rounded(f.threshold, 2),
                "unit": f.unit,
                "severity": f.severity,
                "cue": f.cue,
            }
            for f in rep.faults
        ],
        "peak": finite_metrics(rep.peak),
    }


def _guidance_key(text: str) -> str:
    for key, value in GUIDANCE_TEXT.items():
        if value == text:
            return key
    return "guidance"


def _no_feedback(target: int | None) -> dict[str, Any]:
    return {
        "phase": None,
        "rep_count": 0,
        "valid_rep_count": 0,
        "target_reps": target,
        "cue": None,
        "cues": [],
        "speak": [],
        "overlay": None,
        "placement": [],
        "view": None,
        "set_done": False,
    }


def feedback_json(fb: LiveFeedback | None, req: StartSet | None) -> dict[str, Any]:
    """The analysis part of a frame reply: phase, counts, the one cue to show, overlay, placement, set_done."""
    target = req.target_reps if req else None
    if fb is None:
        return _no_feedback(target)
    cues = [str(c) for c in fb.cues]
    out: dict[str, Any] = {
        "phase": str(fb.phase),
        "rep_count": int(fb.rep_count),
        "valid_rep_count": int(fb.valid_rep_count),
        "target_reps": target,
        "cue": cues[0] if cues else None,
        "cues": cues,
        "speak": [str(c) for c in fb.new_cues][:1],
        "overlay": fb.overlay.to_json(),
        "placement": [{"code": _guidance_key(g), "message": g} for g in fb.guidance],
        "view": fb.view,
    }
    done = False
    if target is not None and req is not None and not req.preview:
        if fb.hold_good_s is not None:
            out["hold_good_s"] = rounded(fb.hold_good_s, 1)
            out["hold_in_position_s"] = rounded(fb.hold_in_position_s, 1)
            if req.hold_s:
                out["hold_target_s"] = round(req.hold_s * target, 1)
                done = fb.hold_good_s >= req.hold_s * target
        else:
            done = fb.valid_rep_count >= target
    out["set_done"] = done
    return out


def coached_json(cf: Frame | None, req: StartSet | None) -> dict[str, Any]:
    """feedback_json of what the person sees, with the counts of the counting session only (0 before "Go"),
    the one coach message ("coach": kind, text, speak, key) and the countdown gate ("gate": state, seconds_left)."""
    if cf is None:
        return {**feedback_json(None, req), "coach": None, "gate": None, "counting": False}
    out = feedback_json(cf.shown, req)
    if not cf.counting:
        last = cf.last_counted
        out["rep_count"] = int(last.rep_count) if last is not None else 0
        out["valid_rep_count"] = int(last.valid_rep_count) if last is not None else 0
        out["set_done"] = False
        if "hold_good_s" in out:
            held = last.hold_good_s if last is not None else None
            out["hold_good_s"] = rounded(held, 1) if held is not None else 0.0
    msg = cf.message
    out["speak"] = [msg.speak] if msg is not None and msg.speak else []
    out["coach"] = msg.to_json() if msg is not None else None
    out["gate"] = cf.gate.to_json() if cf.gate is not None else None
    out["counting"] = bool(cf.counting)
    return out


def frame_fields(
    seq: int,
    source: str,
    pf: PoseFrame,
    landmarks: list[list[float | None]] | None,
    coached: dict[str, Any],
    timing: dict[str, float | None],
) -> dict[str, Any]:
    """A frame reply's fields (protocol.FrameReply but new_reps, added once the reps are stored)."""
    return {
        "seq": seq,
        "pose_source": source,
        "t_s": round(pf.t_s, 3),
        "wh": list(pf.frame_wh),
        "pose": pf.detected,
        "landmarks": landmarks,  # browser pose: None, the page has its own
        "angles": key_angles(pf),
        **coached,
        "timing_ms": timing,
    }
