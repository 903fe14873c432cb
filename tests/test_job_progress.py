"""A review job's progress is frames posed of frames to pose, kept in the job row and shown on the page; a job
that fails leaves no annotated video or landmark file of its own behind (issue 20)."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from formcheck.errors import VideoError
from formcheck.webapp.app import create_app
from tests.test_web_upload import fake_analyse, make_settings, post_video, seeded, sign_in, wait_job, write_video

RESULT_JS = Path(__file__).resolve().parents[1] / "formcheck" / "static" / "result.js"


def frames_analyse(video, exercise_id, side, *, overrides, annotate_path, landmarks_path, progress):
    progress(0.3, frames=(310, 740))
    progress(0.75, frames=(740, 740))
    return fake_analyse(
        video, exercise_id, side, overrides=overrides, annotate_path=annotate_path, landmarks_path=landmarks_path,
        progress=progress,
    )  # fmt: skip


def half_written_analyse(video, exercise_id, side, *, overrides, annotate_path, landmarks_path, progress):
    shutil.copyfile(video, annotate_path)
    landmarks_path.write_bytes(b"not yet")
    raise VideoError("segment 2 of 2 (8.6 s to the end) failed: the video is truncated")


def _review(tmp_path: Path, analyzer: str) -> tuple[dict, Path]:
    settings = make_settings(tmp_path, analyzer=f"{__name__}:{analyzer}")
    seeded(settings)
    with TestClient(create_app(settings)) as client:
        token = sign_in(client, "alex")
        r = post_video(client, token, write_video(tmp_path / "set.mp4").read_bytes())
        assert r.status_code in (200, 201, 202), r.text
        return wait_job(client, r.json()["id"]), settings.uploads_dir


def test_progress_is_frames_done_of_frames_total(tmp_path: Path) -> None:
    job, _ = _review(tmp_path, "frames_analyse")
    assert job["status"] == "done"
    assert (job["frames_done"], job["frames_total"]) == (740, 740)
    assert "of ${job.frames_total} frames" in RESULT_JS.read_text()  # "42% — 310 of 740 frames"


def test_a_failed_job_leaves_nothing_half_written(tmp_path: Path) -> None:
    job, uploads = _review(tmp_path, "half_written_analyse")
    assert job["status"] == "failed" and job["message"].startswith("segment 2 of 2"), job
    left = sorted(p.name for p in uploads.rglob("*") if p.is_file())
    assert not [n for n in left if n.endswith((".annotated.mp4", ".landmarks.npz"))], left
