"""`formcheck analyze`, `formcheck exercises`, `formcheck eval` through the real CLI entry point (no MediaPipe:
landmarks come from synthetic .npz caches)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synthpose import to_seq
from test_analysis import squats

from formcheck.cli import main

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "videos"


def test_exercises_lists_the_library(capsys) -> None:
    assert main(["exercises"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["id", "views"]
    assert len(out) == 14 and any(ln.startswith("wall_sit ") and " hold " in ln for ln in out)  # + the footnote


def test_analyze_with_landmarks_writes_table_and_json(tmp_path, capsys) -> None:
    npz = tmp_path / "clip.npz"
    to_seq(squats(3, valgus_on=(2,)), "front").save_npz(npz)
    out = tmp_path / "r.json"
    assert (
        main(
            ["analyze", str(tmp_path / "clip.mp4"), "--exercise", "squat", "--landmarks", str(npz), "--json", str(out)]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "reps: 3, valid: 2" in text
    data = json.loads(out.read_text())
    assert data["schema"] == "formcheck.report/1" and data["summary"]["reps"] == 3
    assert [r["valid"] for r in data["reps"]] == [True, True, False]


def test_unknown_exercise_and_missing_video_are_one_line_errors(tmp_path, capsys) -> None:
    assert main(["analyze", str(tmp_path / "x.mp4"), "--exercise", "burpee"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("formcheck: error: unknown exercise 'burpee'; valid: glute_bridge, lunge,")
    assert "\n" not in err
    assert main(["analyze", str(tmp_path / "x.mp4"), "--exercise", "squat"]) == 2
    assert "no such video file" in capsys.readouterr().err


def test_eval_on_a_small_manifest(tmp_path, capsys) -> None:
    lm = tmp_path / "lm"
    lm.mkdir()
    to_seq(squats(3), "front").save_npz(lm / "a.npz")
    to_seq(squats(2, valgus_on=(0,)), "front").save_npz(lm / "b.npz")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "videos": [
                    {
                        "file": "a.mp4",
                        "exercise": "squat",
                        "reps": 3,
                        "rep_times": [[1.5, 3.5], [4.5, 6.5], [7.5, 9.5]],
                        "faults": [],
                    },
                    {
                        "file": "b.mp4",
                        "exercise": "squat",
                        "reps": 3,
                        "rep_times": [[1.5, 3.5], [4.5, 6.5], [7.5, 9.5]],
                        "faults": ["knee valgus rep 1"],
                    },
                ]
            }
        )
    )
    out = tmp_path / "eval.json"
    assert main(["eval", str(manifest), "--landmarks-dir", str(lm), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "count off by -1: b.mp4 (label 3, got 2)" in text
    both = json.loads(out.read_text())
    for path in ("upload", "live"):  # the same figures through the upload and the live coach (replayed at 15 fps)
        s = both["paths"][path]
        assert s["overall"] == {"videos": 2, "exact_rate": 0.5, "mae": 0.5}, path
        assert s["rules"]["knee_valgus"]["tp"] == 1 and s["rules"]["knee_valgus"]["precision"] == 1.0, path
    assert both["agreement"]["same_count"] == 1.0 and both["fps"] == 15.0
    assert "paths agree on the count: 1.00 of 2 clips" in text


@pytest.mark.video
def test_real_video_end_to_end(tmp_path, capsys) -> None:
    """One real labelled clip through MediaPipe: exact rep count, JSON report, browser-playable annotated MP4."""
    video = SHARED / "squat_side_good_formguard.mp4"
    if not video.is_file():
        pytest.skip(f"labelled videos not found at {SHARED}")
    import av

    out, ann = tmp_path / "r.json", tmp_path / "a.mp4"
    assert main(["analyze", str(video), "--exercise", "squat", "--json", str(out), "--annotate", str(ann)]) == 0
    data = json.loads(out.read_text())
    assert data["summary"]["reps"] == 2 and data["view"] == "side" and len(data["model_sha256"]) == 64
    with av.open(str(ann)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        assert s.frames > 100
