"""CLI: `formcheck sweep [--out PATH] [--quick]` (registered by formcheck.cli; the work is in sweep.py, imported
only when the command runs so that other commands start fast)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def default_out() -> Path:
    """benchmarks/view_sweep.json of the source checkout this package lives in."""
    return Path(__file__).resolve().parents[1] / "benchmarks" / "view_sweep.json"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep", help="measure error by camera yaw/height/distance on the mannequins (writes JSON + Markdown)",
        description="Render the mannequin exercises from cameras around the person, run MediaPipe, and tabulate "
                    "each measure's error against ground truth and the viewpoint estimator's error. Clips are "
                    "cached, so a re-run only tabulates.")
    p.add_argument("--out", type=Path, default=None, metavar="PATH",
                   help="JSON table to write; the Markdown goes next to it as .md "
                        "(default: benchmarks/view_sweep.json, or view_sweep_quick.json in the cache with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="two exercises at yaw 0 and 90 only (~1 min): a subset of the full table's cells")
    p.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                   help="landmark cache of the rendered clips (default $FORMCHECK_SWEEP_CACHE_DIR or "
                        "~/.cache/formcheck/sweep)")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from formcheck.synth import sweep

    cache = args.cache_dir or sweep.default_cache_dir()
    out = args.out or (cache / "view_sweep_quick.json" if args.quick else default_out())

    def progress(msg: str) -> None:
        sys.stderr.write(f"sweep: {msg}\n")
        sys.stderr.flush()

    table = sweep.run_sweep(out, quick=args.quick, cache_dir=cache, progress=progress)
    sys.stdout.write(f"{out} ({len(table['cells'])} cells, {len(table['estimator'])} clips) and "
                     f"{out.with_suffix('.md')}\n")
    return 0
