"""Every subcommand answers --help (as Pose2Sim's CI does), and errors are one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from formcheck.cli import COMMAND_MODULES, build_parser, main

EXPECTED_COMMANDS = {"pose", "models", "analyze", "exercises", "eval", "today", "checkin", "history", "people", "serve"}


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


def test_every_feature_module_registers_its_commands():
    import importlib

    for name in COMMAND_MODULES:
        assert callable(importlib.import_module(name).register), name
    assert set(_commands()) >= EXPECTED_COMMANDS


@pytest.mark.parametrize("command", sorted(EXPECTED_COMMANDS))
def test_help_for_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert command in capsys.readouterr().out


def test_user_error_is_one_line_on_stderr_with_exit_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "formcheck", "pose", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "x.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("formcheck: error:") and "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_no_command_prints_help_and_exit_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
