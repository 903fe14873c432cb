"""Fake job bodies for the crash tests against a real `formcheck serve` (FORMCHECK_ANALYZER=hardening_analyzer:...).

Each run appends "start JOB PID" and, when it completes, "done JOB PID" to trace.log in the data dir, so a test
can count how often each job ran to completion and which worker process ran it.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

RUN_S = 4.0  # long enough to kill the server mid-job
STEPS = 20


def _trace(video: Path, line: str) -> None:
    data_dir = Path(video).resolve().parents[2]  # DATA/uploads/<person>/<file>
    with open(data_dir / "trace.log", "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def _job_of(annotate_path: Path) -> str:
    return Path(annotate_path).name.split(".")[0]


def slow_analyse(video, exercise_id, side, *, overrides, annotate_path, landmarks_path, progress):
    tag = _job_of(annotate_path)
    _trace(video, f"start {tag} {os.getpid()}")
    for i in range(STEPS):
        time.sleep(RUN_S / STEPS)
        progress((i + 1) / STEPS * 0.9)
    shutil.copyfile(video, annotate_path)
    _trace(video, f"done {tag} {os.getpid()}")
    report = {
        "schema": "formcheck.report/1",
        "exercise": exercise_id,
        "view": "front",
        "side": side,
        "video": "x",
        "overrides": overrides or {},
        "reps": [],
        "summary": {"reps": 0, "valid_reps": 0},
    }
    return report, None


def forever_analyse(video, exercise_id, side, *, overrides, annotate_path, landmarks_path, progress):
    _trace(video, f"start {_job_of(annotate_path)} {os.getpid()}")
    progress(0.1)
    time.sleep(3600)
