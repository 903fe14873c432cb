"""CLI: `formcheck sweep [--out PATH] [--quick]`: a developer command of a source checkout. The work is in
tools/synth/sweep.py (the fixture generator is not shipped in the wheel), imported only when the command runs."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

from formcheck.errors import FormcheckError

CHECKOUT = Path(__file__).resolve().parents[2]


def default_out() -> Path:
    """benchmarks/view_sweep.json of the source checkout this package lives in."""
    return CHECKOUT / "benchmarks" / "view_sweep.json"


def _import_sweep() -> ModuleType:
    """tools.synth.sweep from the checkout beside this package; a one-line error in an installed copy."""
    if not (CHECKOUT / "tools" / "synth" / "sweep.py").is_file():
        raise FormcheckError("formcheck sweep runs from a source checkout (it needs tools/synth/, not installed)")
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    return importlib.import_module("tools.synth.sweep")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="measure error by camera yaw/height/distance on the mannequins (writes JSON + Markdown)",
        description="Render the mannequin exercises from cameras around the person, run MediaPipe, and tabulate "
        "each measure's error against ground truth and the viewpoint estimator's error. Clips are "
        "cached, so a re-run only tabulates.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="PATH",
        help="JSON table to write; the Markdown goes next to it as .md "
        "(default: benchmarks/view_sweep.json, or view_sweep_quick.json in the cache with --quick)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="two exercises at yaw 0 and 90 only (~1 min): a subset of the full table's cells",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="landmark cache of the rendered clips (default $FORMCHECK_SWEEP_CACHE_DIR or ~/.cache/formcheck/sweep)",
    )
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    sweep = _import_sweep()
    cache = args.cache_dir or sweep.default_cache_dir()
    out = args.out or (cache / "view_sweep_quick.json" if args.quick else default_out())

    def progress(msg: str) -> None:
        sys.stderr.write(f"sweep: {msg}\n")
        sys.stderr.flush()

    table = sweep.run_sweep(out, quick=args.quick, cache_dir=cache, progress=progress)
    sys.stdout.write(
        f"{out} ({len(table['cells'])} cells, {len(table['estimator'])} clips) and {out.with_suffix('.md')}\n"
    )
    return 0
