"""Frame sources: decoder timestamps (never an fps guess), upright rotation, one-line errors on bad files."""

from __future__ import annotations

import numpy as np
import pytest

from formcheck.errors import VideoError
from formcheck.media.video import frames_from, probe, read_video
from tests.videoutil import set_mp4_rotation, write_video


def _frames(n: int, w: int = 64, h: int = 48) -> list[np.ndarray]:
    out = []
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[:, : w // 4] = 255  # a white band on the left edge, to check orientation
        img[0, 0, 1] = i
        out.append(img)
    return out


def test_timestamps_come_from_the_decoder_even_with_variable_frame_rate(tmp_path):
    pts = [0.0, 0.1, 0.25, 0.26, 0.5, 0.9, 1.0]
    path = write_video(tmp_path / "vfr.mp4", _frames(len(pts)), pts_s=pts, fps=10)
    got = [f.t_s for f in read_video(path)]
    assert got == pytest.approx(pts, abs=1e-3)


def test_frames_keep_their_size_and_order(tmp_path):
    path = write_video(tmp_path / "a.mp4", _frames(12, 96, 64))
    frames = list(read_video(path))
    assert len(frames) == 12
    assert frames[0].wh == (96, 64)
    assert all(f.rgb.flags.c_contiguous for f in frames)
    assert np.diff([f.t_s for f in frames]) == pytest.approx(np.full(11, 1 / 30), abs=1e-3)


def test_large_frames_are_scaled_down_keeping_aspect(tmp_path):
    path = write_video(tmp_path / "big.mp4", _frames(2, 1920, 1080))
    frame = next(iter(read_video(path)))
    assert frame.wh == (960, 540)
    assert probe(path).width == 960


def test_phone_rotation_metadata_comes_out_upright(tmp_path):
    path = write_video(tmp_path / "rot.mp4", _frames(3, 64, 32))
    set_mp4_rotation(path, (0, 1, -1, 0))  # a portrait phone clip stored landscape
    frames = list(read_video(path))
    assert frames[0].wh == (32, 64)
    assert probe(path).rotation_deg == 270
    # the white band on the stored frame's left edge is at the top once upright
    assert frames[0].rgb[:12, :, 0].mean() > 200
    assert frames[0].rgb[20:, :, 0].mean() < 30


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not a video\n" * 50), "not a readable video"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, make, message):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(VideoError, match=message) as info:
        list(read_video(path))
    assert "\n" not in str(info.value)


def test_truncated_video_is_reported_not_silently_short(tmp_path):
    path = write_video(
        tmp_path / "full.mp4", [np.random.default_rng(i).integers(0, 255, (240, 320, 3), np.uint8) for i in range(30)]
    )
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    frames = []
    with pytest.raises(VideoError, match="truncated|no frames|not a readable") as info:
        for f in read_video(cut):
            frames.append(f)
    assert len(frames) < 30
    assert "\n" not in str(info.value)


def test_a_directory_is_not_a_video(tmp_path):
    with pytest.raises(VideoError, match="directory"):
        list(read_video(tmp_path))


def test_iterables_of_bgr_images_become_rgb_frames():
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 0] = 200  # blue in BGR
    frame = next(frames_from([(0.5, bgr)]))
    assert frame.t_s == 0.5
    assert frame.rgb[0, 0].tolist() == [0, 0, 200]
