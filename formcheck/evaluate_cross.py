"""`formcheck eval --cross`: each labelled standing clip analysed as every other standing exercise.

Off the confusion matrix's diagonal every rep counted is a wrong count: a lunge counted as squats, a squat as step-
downs. It measures what a wrong-exercise check would have to stop (issue 16 item 5); it fits nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from formcheck.core.spec import exercise_ids, load_exercise
from formcheck.evaluate import Analyser, Json, load_seq, read_manifest, upload_analyser


def standing_rep_exercises() -> list[str]:
    """The exercises done standing and counted in reps: the ones a person could confuse in front of a camera."""
    out = []
    for ex in exercise_ids():
        spec = load_exercise(ex)
        if spec.posture == "standing" and spec.rep is not None:
            out.append(ex)
    return out


def run_cross(
    manifest: str | Path,
    *,
    landmarks_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    analyse: Analyser = upload_analyser,
) -> Json:
    """The confusion matrix: for each labelled standing exercise (rows) run as each standing exercise (columns),
    the clips that counted any rep and the reps counted. Off the diagonal, every count is a wrong count."""
    mpath = Path(manifest)
    exercises = standing_rep_exercises()
    cells: dict[str, dict[str, Json]] = {}
    for entry in read_manifest(mpath):
        if entry.get("person_visible") is False or entry["exercise"] not in exercises or entry.get("reps") is None:
            continue
        if progress:
            progress(entry["file"])
        seq = load_seq(mpath.parent / entry["file"], landmarks_dir, None)
        row = cells.setdefault(entry["exercise"], {})
        for ex in exercises:
            res = analyse(seq, {**entry, "exercise": ex}, "auto")
            c = row.setdefault(ex, {"clips": 0, "counted": 0, "reps": 0})
            c["clips"] += 1
            c["counted"] += res.rep_count > 0
            c["reps"] += res.rep_count
    off = [c for r, row in cells.items() for ex, c in row.items() if ex != r]
    return {
        "schema": "formcheck.eval-cross/1",
        "exercises": exercises,
        "cells": cells,
        "wrong_counted": sum(c["counted"] for c in off),
        "wrong_runs": sum(c["clips"] for c in off),
    }


def _cross_cell(c: Json | None) -> str:
    return "—" if c is None else f"{c['counted']}/{c['clips']} ({c['reps']})"


def render_cross(cross: Json) -> str:
    """Rows: the labelled exercise; columns: run as; cell: clips that counted a rep / clips (reps counted)."""
    exs = cross["exercises"]
    lines = ["rows: the clip's exercise; columns: analysed as; cell: clips with any rep counted/clips (reps)"]
    lines.append(f"{'':<24}" + "".join(f"{e[:14]:>16}" for e in exs))
    for r, row in cross["cells"].items():
        cells = [row.get(e) for e in exs]
        lines.append(f"{r:<24}" + "".join(f"{_cross_cell(c):>16}" for c in cells))
    lines.append(
        f"wrong exercise counted anything in {cross['wrong_counted']} of {cross['wrong_runs']} runs "
        "(a wrong exercise counts nothing once core.wrong_exercise says clearly what it looks like)"
    )
    return "\n".join(lines)
