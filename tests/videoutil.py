"""Small videos written on the fly for tests (PyAV, H.264)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def write_video(
    path: Path, frames: list[np.ndarray], pts_s: list[float] | None = None, fps: int = 30, faststart: bool = True
) -> Path:
    """Write RGB frames as H.264 MP4; pts_s gives each frame's presentation time (variable frame rate)."""
    from fractions import Fraction

    import av

    h, w = frames[0].shape[:2]
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.time_base = Fraction(1, 1000)
        s.codec_context.time_base = Fraction(1, 1000)
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = int(round((pts_s[i] if pts_s else i / fps) * 1000))
            f.time_base = Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def set_mp4_rotation(path: Path, matrix_abcd: tuple[int, int, int, int]) -> None:
    """Patch the track header's display matrix, as phones do for portrait videos (16.16 fixed point)."""
    data = bytearray(path.read_bytes())
    i = data.find(b"tkhd")
    version = data[i + 4]
    off = i + 8 + (20 if version == 0 else 32) + 16
    a, b, c, d = (v << 16 for v in matrix_abcd)
    data[off : off + 36] = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(data))
