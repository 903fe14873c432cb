"""Annotated review video: skeleton, live angle read-out, rep counter and fault markers, as browser-playable H.264.

The only drawing code in the analysis package (the live page draws in the browser from OverlaySpec data).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from formcheck.core.feedback import rule_landmarks
from formcheck.core.landmarks import CONNECTIONS, Side, sided
from formcheck.core.measures import MEASURES, PoseArrays
from formcheck.core.results import Rep, SetResult
from formcheck.core.rules import MeasureTable
from formcheck.core.spec import load_exercise
from formcheck.core.types import PoseSeq
from formcheck.errors import VideoError

log = logging.getLogger(__name__)

# Colours are RGB (frames are RGB throughout).
SKELETON_RGB = (80, 220, 120)
JOINT_RGB = (255, 255, 255)
WARN_RGB = (255, 80, 40)  # fault markers: a warning colour that stands out on skin and most clothes
TEXT_RGB = (255, 255, 255)
PANEL_RGB = (20, 20, 20)
# A finished rep's verdict stays on screen this long after the rep ends.
VERDICT_SHOW_S = 1.5
# libx264 quality from docs/platform.md §1 (veryfast crf 23: ~80 fps at 960x540); media.video.H264Writer encodes.
X264_CRF = 23


def _pt(xy: NDArray[np.float64], lm: int, scale: tuple[float, float]) -> tuple[int, int] | None:
    p = xy[lm]
    if not np.isfinite(p).all():
        return None
    return int(round(p[0] * scale[0])), int(round(p[1] * scale[1]))


def draw_frame(
    rgb: NDArray[np.uint8],
    xy: NDArray[np.float64],
    scale: tuple[float, float],
    *,
    rep_count: int,
    valid_count: int,
    angle: tuple[str, float, int] | None,
    fault_lms: set[int],
    banner: str | None,
    banner_bad: bool,
) -> NDArray[np.uint8]:
    """Draw one frame's annotations on a copy of `rgb` (H, W, 3 uint8)."""
    img = np.ascontiguousarray(rgb).copy()
    h, w = img.shape[:2]
    thick = max(2, int(round(min(h, w) / 250)))
    font = max(0.5, min(h, w) / 900)
    for a, b in CONNECTIONS:
        pa, pb = _pt(xy, int(a), scale), _pt(xy, int(b), scale)
        if pa and pb:
            bad = int(a) in fault_lms and int(b) in fault_lms
            cv2.line(img, pa, pb, WARN_RGB if bad else SKELETON_RGB, thick * (2 if bad else 1), cv2.LINE_AA)
    for i in range(len(xy)):
        p = _pt(xy, i, scale)
        if p:
            bad = i in fault_lms
            cv2.circle(img, p, thick * (3 if bad else 1) + 1, WARN_RGB if bad else JOINT_RGB, -1, cv2.LINE_AA)
    if angle is not None:
        label, value, lm = angle
        p = _pt(xy, lm, scale)
        if p and np.isfinite(value):
            cv2.putText(
                img,
                f"{label} {value:.0f}",
                (p[0] + 8 * thick, p[1]),
                cv2.FONT_HERSHEY_SIMPLEX,
                font,
                TEXT_RGB,
                thick,
                cv2.LINE_AA,
            )
    text = f"reps {rep_count}  valid {valid_count}"
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font * 1.2, thick)
    cv2.rectangle(img, (0, 0), (tw + 20, th + 20), PANEL_RGB, -1)
    cv2.putText(img, text, (10, th + 10), cv2.FONT_HERSHEY_SIMPLEX, font * 1.2, TEXT_RGB, thick, cv2.LINE_AA)
    if banner:
        (bw, bh), _ = cv2.getTextSize(banner, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        y0 = h - bh - 24
        cv2.rectangle(img, (0, y0), (min(w, bw + 20), h), WARN_RGB if banner_bad else PANEL_RGB, -1)
        cv2.putText(img, banner, (10, h - 12), cv2.FONT_HERSHEY_SIMPLEX, font, TEXT_RGB, thick, cv2.LINE_AA)
    return img


def _fault_landmarks(result: SetResult, rep: Rep) -> set[int]:
    spec = load_exercise(result.exercise_id)
    side = Side(rep.side) if rep.side else None
    out: set[int] = set()
    for f in rep.faults:
        out.update(int(m) for m in rule_landmarks(spec.rule(f.rule), side))
    return out


def annotate_video(
    video: str | Path, seq: PoseSeq, result: SetResult, out_path: str | Path, *, table: MeasureTable | None = None
) -> Path:
    """Re-decode `video` and write its posed frames (those of `seq`, <= 30 a second, <= 960 px: below 720p)
    annotated from `seq` (smoothed landmarks) and `result` as H.264 MP4 (libx264 veryfast).

    `table`: the measures over `seq` already computed (formcheck.pipeline passes the analysis' own), so the
    angle read-out is not computed again."""
    from formcheck.media.segments import frames_at, read_ahead
    from formcheck.media.video import H264Writer

    spec = load_exercise(result.exercise_id)
    s = spec.rep or spec.hold
    assert s is not None
    if table is None:
        table = MeasureTable(PoseArrays.from_seq(seq), seq.t_s)
    side_key = s.combine if not spec.rep else spec.rep.combine_key()
    signal = table.get(s.measure, side_key if MEASURES[s.measure].sided else None)
    joint = int(sided(Side.LEFT, "KNEE") if "knee" in s.measure else sided(Side.LEFT, "HIP"))
    label = s.measure.removesuffix("_deg").replace("_3d", "").replace("_", " ")
    fault_sets = [_fault_landmarks(result, r) for r in result.reps]
    fps = 1.0 / float(np.median(np.diff(seq.t_s))) if len(seq) > 1 else 30.0
    with H264Writer(out_path, fps=int(round(fps)) or 30, crf=X264_CRF) as writer:
        # the posed frames only (<= 30 a second), decoded ahead so that decoding overlaps drawing and encoding
        for frame in read_ahead(lambda halt: frames_at(video, seq.t_s, stop=halt)):
            rgb = frame.rgb
            h, w = rgb.shape[:2]
            i = int(np.clip(np.searchsorted(seq.t_s, frame.t_s), 0, max(len(seq) - 1, 0))) if len(seq) else -1
            scale = (w / seq.frame_wh[0], h / seq.frame_wh[1]) if seq.frame_wh[0] else (1.0, 1.0)
            done = [r for r in result.reps if r.end_s <= frame.t_s]
            current = [k for k, r in enumerate(result.reps) if r.start_s <= frame.t_s <= r.end_s + VERDICT_SHOW_S]
            fault_lms = fault_sets[current[-1]] if current else set()
            banner, bad = None, False
            recent = [r for r in done if frame.t_s - r.end_s <= VERDICT_SHOW_S]
            if recent:
                r = recent[-1]
                banner = f"rep {r.index}: {r.verdict}" + (f" - {r.why}" if r.why else "")
                bad = r.verdict == "invalid"
            xy = seq.xy_px[i] if i >= 0 else np.full((33, 2), np.nan)
            angle = (label, float(signal[i]), joint) if i >= 0 else None
            img = draw_frame(
                rgb,
                xy,
                scale,
                rep_count=len(done),
                valid_count=sum(r.valid for r in done),
                angle=angle,
                fault_lms=fault_lms,
                banner=banner,
                banner_bad=bad,
            )
            writer.write(img)
        if writer.frames == 0:
            raise VideoError(f"{video}: no frames to annotate")
    return Path(out_path)
