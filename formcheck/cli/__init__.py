"""The `formcheck` command: subcommands registered by each feature module; one-line errors, never tracebacks."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from formcheck import __version__
from formcheck.config import env_name, load_config
from formcheck.errors import FormcheckError

# Each module exposes register(subparsers) and sets `func(args) -> int` on its subcommands.
COMMAND_MODULES = (
    "formcheck.cli.pose",
    "formcheck.cli.analyze",
    "formcheck.cli.programme",
    "formcheck.cli.serve",
    "formcheck.cli.worker",
    "formcheck.cli.sweep",
)
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
ENV_DEBUG = env_name("debug")  # "1": show the full traceback of an unexpected error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="formcheck",
        description="Camera-guided knee rehab: judge every rep, pace the recovery programme.",
    )
    parser.add_argument("--version", action="version", version=f"formcheck {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a feature still being written: its commands are absent
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def _debug() -> bool:
    """FORMCHECK_DEBUG=1; a bad value of any variable must not hide the error being reported."""
    try:
        return load_config().debug
    except FormcheckError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="formcheck: %(levelname)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except FormcheckError as exc:
        print(f"formcheck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("formcheck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        if _debug():
            raise
        print(
            f"formcheck: internal error: {type(exc).__name__}: {exc} (set {ENV_DEBUG}=1 for details)", file=sys.stderr
        )
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
