"""media.video.H264Writer, the one H.264 writer (live clips, annotated uploads, the fixture generator)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from formcheck.errors import VideoError
from formcheck.media.video import H264Writer, probe


def _frame(i: int, h: int = 121, w: int = 161) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, (i * 4) % w] = 255  # a moving bar, so the encoder has something to code
    return img


def test_writes_browser_playable_h264_and_crops_odd_sizes(tmp_path):
    out = tmp_path / "sub" / "v.mp4"
    with H264Writer(out, fps=15) as w:
        for i in range(20):
            w.write(_frame(i))
    assert out.is_file() and not (tmp_path / "sub" / "v.part.mp4").exists()
    info = probe(out)
    assert (info.width, info.height) == (160, 120)  # yuv420p needs even sides
    assert info.fps == pytest.approx(15.0, rel=0.05)
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        assert sum(1 for _ in c.decode(s)) == 20
    head = out.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and head.find(b"moov") < max(head.find(b"mdat"), 4096)  # +faststart


def test_timed_frames_keep_their_own_times(tmp_path):
    out = tmp_path / "clip.mp4"
    times_s = [0.0, 0.05, 0.2, 0.21, 0.5]
    with H264Writer(out) as w:
        for i, t in enumerate(times_s):
            w.write(_frame(i, 120, 160)[:, :, ::-1], fmt="bgr24", t_s=10.0 + t)
    with av.open(str(out)) as c:
        pts_s = [float(f.time) for f in c.decode(video=0)]
    assert pts_s == pytest.approx(times_s, abs=0.002)


def test_an_error_leaves_no_file_behind(tmp_path):
    out = tmp_path / "v.mp4"
    with pytest.raises(RuntimeError), H264Writer(out) as w:
        w.write(_frame(0))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(VideoError, match="no frames"), H264Writer(out):
        pass
    assert list(tmp_path.iterdir()) == []
