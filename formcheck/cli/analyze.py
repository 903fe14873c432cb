"""CLI: `formcheck analyze`, `formcheck exercises`, `formcheck eval` (registered by formcheck.cli)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from formcheck.core import spec as spec_mod
from formcheck.errors import InputError


def _out(text: str) -> None:
    """CLI output (this module is the terminal front end; library code logs instead)."""
    sys.stdout.write(f"{text}\n")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="judge every rep of an exercise video",
        description="Pose -> reps -> rules: a terminal table, a JSON report and optionally an annotated H.264 MP4.",
    )
    p.add_argument("video", type=Path, help="video file")
    p.add_argument("--exercise", "-e", required=True, metavar="ID", help="exercise id (see `formcheck exercises`)")
    p.add_argument(
        "--side", choices=("left", "right", "auto"), default="auto", help="working side (default: detected per rep)"
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="write the JSON report here ('-' = stdout)")
    p.add_argument("--annotate", type=Path, metavar="OUT.mp4", help="write an annotated video (H.264 MP4)")
    p.add_argument(
        "--landmarks",
        type=Path,
        metavar="NPZ",
        help="use this landmark cache (formcheck pose --out .npz) instead of running the pose model",
    )
    p.set_defaults(func=cmd_analyze)

    p = subparsers.add_parser("exercises", help="list the exercise library")
    p.add_argument("--json", action="store_true", help="print the specs as JSON")
    p.set_defaults(func=cmd_exercises)

    _register_eval(subparsers)


def _register_eval(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("eval", help="rep-count and per-rule accuracy over a labelled manifest")
    p.add_argument("manifest", type=Path, help="manifest.json (format of ../shared/videos/manifest.json)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON")
    p.add_argument(
        "--landmarks-dir",
        type=Path,
        metavar="DIR",
        help="directory of <video-stem>.npz landmark caches (else the pose cache is used)",
    )
    p.add_argument(
        "--path",
        choices=("live", "upload", "both"),
        default="both",
        help="which path to judge the clips with: the live coach (replayed as a browser-pose page sends "
        "landmarks), the upload, or both side by side (default)",
    )
    p.add_argument("--live", action="store_true", help="the live path only (same as --path live)")
    p.add_argument(
        "--fps",
        type=float,
        default=15.0,
        choices=(10.0, 12.0, 15.0, 20.0, 30.0),
        help="frames a second the live page sends (default 15)",
    )
    p.add_argument(
        "--side",
        choices=("labelled", "auto"),
        default="labelled",
        help="score with each clip's labelled working side, as the programme passes it (default), or detect it; "
        "the other one's exact-count rate is printed beside it",
    )
    p.add_argument(
        "--cross",
        action="store_true",
        help="run each clip of a standing exercise as every other standing exercise: the confusion matrix",
    )
    p.set_defaults(func=cmd_eval)


def _check_exercise(exercise_id: str) -> None:
    ids = spec_mod.exercise_ids()
    if exercise_id not in ids:
        raise InputError(f"unknown exercise {exercise_id!r}; valid: {', '.join(ids)}")


def _progress() -> Callable[[float], None] | None:
    stream = sys.stderr
    if not stream.isatty():
        return None

    def show(fraction: float) -> None:
        n = int(fraction * 30)
        stream.write(f"\rpose [{'#' * n}{'.' * (30 - n)}] {fraction:4.0%}")
        if fraction >= 1:
            stream.write("\n")
        stream.flush()

    return show


def _check_input_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a {what} file")
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file")


ANNOTATE_SUFFIXES = (".mp4", ".m4v", ".mov")  # containers the H.264 writer can produce (with +faststart)


def check_output_path(path: Path, flag: str) -> None:
    """Before the (long) analysis: the output's folder exists and is writable, and the path is not a folder."""
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a directory; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{flag} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{flag} {path}: not writable")


def cmd_analyze(args: argparse.Namespace) -> int:
    from formcheck.core.report import render_table, report_to_json
    from formcheck.pipeline import analyze_video

    _check_exercise(args.exercise)
    if args.landmarks is None:
        _check_input_file(args.video, "video")
    if args.landmarks is not None:
        _check_input_file(args.landmarks, "landmark")
    if args.json is not None and str(args.json) != "-":
        check_output_path(args.json, "--json")
    if args.annotate is not None:
        check_output_path(args.annotate, "--annotate")
        if args.annotate.suffix.lower() not in ANNOTATE_SUFFIXES:
            raise InputError(
                f"--annotate {args.annotate}: the annotated video is an H.264 MP4: name it "
                f"{' or '.join(ANNOTATE_SUFFIXES)}"
            )
    report = analyze_video(
        args.video,
        args.exercise,
        args.side,
        annotate_path=args.annotate,
        progress=_progress(),
        landmarks_cache=args.landmarks,
    )
    data = report_to_json(report)
    if args.json is not None and str(args.json) == "-":
        json.dump(data, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _out(render_table(report))
        if args.json is not None:
            args.json.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            _out(f"report: {args.json}")
        if args.annotate is not None:
            _out(f"annotated video: {args.annotate}")
    return 0


def cmd_exercises(args: argparse.Namespace) -> int:
    specs = spec_mod.load_all()
    if args.json:
        _out(json.dumps({k: v.model_dump(mode="json") for k, v in specs.items()}, indent=1))
        return 0
    support = labelled_faults()
    _out(f"{'id':<26}{'views':<13}{'sides':<12}{'counts':<9}rules (real labelled faults behind each)")
    for k, s in specs.items():
        counts = "hold" if s.is_hold else "reps"
        backed = support.get(k, {})
        _out(
            f"{k:<26}{'/'.join(str(v) for v in s.views):<13}{s.side_mode:<12}{counts:<9}"
            f"{', '.join(_rule_support(r.id, backed.get(r.id, 0)) for r in s.rules)}"
        )
    _out(
        f"* behind fewer than {MIN_REAL_FAULTS} real labelled faults: the rule stands on the literature "
        "(docs/clinical.md) and the mannequin sweep alone; its precision on real people is not yet measured."
    )
    return 0


# The bar for a rule measured on real people (issue 16 item 7): fewer real labelled faults than this and
# `formcheck exercises` says the rule stands on the literature and the mannequin alone.
MIN_REAL_FAULTS = 3


def _rule_support(rule: str, n: int) -> str:
    return f"{rule} ({n}{'*' if n < MIN_REAL_FAULTS else ''})"


def labelled_faults() -> dict[str, dict[str, int]]:
    """Per exercise and rule, the real labelled fault reps behind it (core/exercises/labelled_faults.json)."""
    from importlib import resources

    text = (resources.files("formcheck.core") / "exercises" / "labelled_faults.json").read_text(encoding="utf-8")
    faults: dict[str, dict[str, int]] = json.loads(text)["faults"]
    return faults


def cmd_eval(args: argparse.Namespace) -> int:
    from formcheck.evaluate import render_paths, run_paths, upload_analyser
    from formcheck.webapp.live.replay import live_analyser

    if not args.manifest.is_file():
        raise InputError(f"{args.manifest}: no such manifest")
    tty = sys.stderr.isatty()

    def prog(name: str) -> None:
        if tty:
            sys.stderr.write(f"\r{name[:70]:<70}")
            sys.stderr.flush()

    path = "live" if args.live else args.path
    if args.cross:
        from formcheck.evaluate_cross import render_cross, run_cross

        analyse = live_analyser(args.fps) if path == "live" else upload_analyser
        _out(f"the {'live' if path == 'live' else 'upload'} path (--live for the live coach)")
        cross = run_cross(args.manifest, landmarks_dir=args.landmarks_dir, progress=prog, analyse=analyse)
        _out(render_cross(cross))
        if args.json is not None:
            args.json.write_text(json.dumps(cross, indent=1) + "\n", encoding="utf-8")
        return 0
    available = {"upload": upload_analyser, "live": live_analyser(args.fps)}
    analysers = {n: a for n, a in available.items() if path in (n, "both")}
    summary = run_paths(args.manifest, analysers, landmarks_dir=args.landmarks_dir, progress=prog, side=args.side)
    summary["fps"] = args.fps
    if tty:
        sys.stderr.write("\r" + " " * 70 + "\r")
    _out(f"live path at {args.fps:g} frames a second; main figures with the working side {args.side}")
    _out(render_paths(summary))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        _out(f"figures: {args.json}")
    return 0
