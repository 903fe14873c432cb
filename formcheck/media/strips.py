"""Frame strips of one rep (a row of frames from its start to its end) for the clinician queue, as JPEG: seek,
decode and scale in the media layer; the web route only serves the bytes."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from formcheck.errors import VideoError

log = logging.getLogger(__name__)

STRIP_FRAMES = 5
STRIP_HEIGHT_PX = 180
STRIP_GAP_PX = 4
JPEG_QUALITY = 82


def _rotation_deg(frame: object) -> int:
    rot = getattr(frame, "rotation", 0) or 0
    return int(round(rot)) % 360


def frames_at(path: Path, times_s: list[float], height_px: int = STRIP_HEIGHT_PX) -> list[NDArray]:
    """Upright RGB frames (scaled to `height_px`) nearest to each time, by seeking then decoding forward."""
    import av
    import cv2

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot open the video for this rep: {exc}") from None
    out: list[NDArray] = []
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if stream.time_base is None:
            raise VideoError("cannot seek in the video for this rep (its stream has no time base)")
        for t_s in times_s:
            target = max(0.0, t_s)
            container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
            chosen = None
            for frame in container.decode(stream):
                chosen = frame
                if frame.time is not None and frame.time >= target:
                    break
            if chosen is None:
                continue
            rgb: NDArray[np.uint8] = np.asarray(chosen.to_ndarray(format="rgb24"), dtype=np.uint8)
            k = (_rotation_deg(chosen) // 90) % 4
            if k:
                rgb = np.ascontiguousarray(np.rot90(rgb, k=k))
            h, w = rgb.shape[:2]
            width_px = max(2, int(round(w * height_px / h)))
            out.append(cv2.resize(rgb, (width_px, height_px), interpolation=cv2.INTER_AREA))
    finally:
        container.close()
    return out


def rep_strip_jpeg(path: Path, start_s: float, end_s: float, n_frames: int = STRIP_FRAMES) -> bytes:
    """A horizontal strip of `n_frames` frames evenly spread over [start_s, end_s]."""
    import cv2

    if end_s < start_s:
        start_s, end_s = end_s, start_s
    times = [start_s + (end_s - start_s) * i / max(1, n_frames - 1) for i in range(n_frames)]
    frames = frames_at(path, times)
    if not frames:
        raise VideoError("no frames could be read for this rep")
    gap = np.full((STRIP_HEIGHT_PX, STRIP_GAP_PX, 3), 17, dtype=np.uint8)
    parts: list[NDArray] = []
    for i, f in enumerate(frames):
        if i:
            parts.append(gap)
        parts.append(f)
    strip = np.concatenate(parts, axis=1)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise VideoError("could not encode the frame strip")
    return buf.tobytes()


def placeholder_svg(message: str) -> str:
    """Shown instead of a strip when no video or clip was kept for a rep (clips are off by default)."""
    from html import escape

    head, _, rest = message.partition(" (")
    second = f"({rest}" if rest else ""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="480" height="150" viewBox="0 0 480 150">'
        '<rect width="480" height="150" rx="10" fill="#1c2630"/>'
        '<text x="240" y="70" fill="#d6dee6" font-family="system-ui, sans-serif" font-size="24" text-anchor="middle">'
        f"{escape(head)}</text>"
        '<text x="240" y="102" fill="#8b99a6" font-family="system-ui, sans-serif" font-size="18" text-anchor="middle">'
        f"{escape(second)}</text></svg>"
    )
