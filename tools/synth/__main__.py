"""`python -m tools.synth [--only NAME ...] [--out DIR] [--list]`: (re)generate the mannequin fixtures."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from tools.synth.fixtures import FIXTURES, FIXTURES_BY_NAME, MAX_FILE_BYTES, write_fixture


def default_out_dir() -> Path:
    """fixtures/videos of the source checkout this package lives in."""
    return Path(__file__).resolve().parents[2] / "fixtures" / "videos"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.synth", description=__doc__)
    ap.add_argument("--only", action="append", metavar="NAME", help="generate only this fixture (repeatable)")
    ap.add_argument("--out", type=Path, default=None, help="output directory (default: <repo>/fixtures/videos)")
    ap.add_argument("--list", action="store_true", help="list the fixtures and exit")
    args = ap.parse_args(argv)
    if args.list:
        for fx in FIXTURES:
            print(f"{fx.name:48s} {fx.description}")
        return 0
    names = args.only or [fx.name for fx in FIXTURES]
    unknown = [n for n in names if n not in FIXTURES_BY_NAME]
    if unknown:
        print(f"tools.synth: error: unknown fixture(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    out = args.out or default_out_dir()
    if args.out is None and not out.parent.is_dir():
        print(
            f"tools.synth: error: {out.parent} does not exist (not a source checkout?); pass --out DIR", file=sys.stderr
        )
        return 2
    logging.basicConfig(level=logging.WARNING)
    too_big = []
    for name in names:
        t0 = time.perf_counter()
        mp4, js = write_fixture(FIXTURES_BY_NAME[name], out)
        size = mp4.stat().st_size
        print(
            f"{mp4.name:52s} {size / 1e3:7.0f} kB  json {js.stat().st_size / 1e3:6.0f} kB  "
            f"{time.perf_counter() - t0:5.1f} s",
            flush=True,
        )
        if size > MAX_FILE_BYTES:
            too_big.append(mp4.name)
    if too_big:
        print(f"tools.synth: error: over {MAX_FILE_BYTES} bytes: {', '.join(too_big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
