"""config.py: one typed settings object for every FORMCHECK_* variable, read only there."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

from formcheck.config import Config, env_name, env_values, load_config, user_cache_dir, user_data_dir
from formcheck.errors import InputError
from formcheck.webapp.settings import Settings

PACKAGE = Path(__file__).resolve().parents[1] / "formcheck"
CONFIG_FILE = PACKAGE / "config.py"
VARIABLE_RE = re.compile(r"FORMCHECK_[A-Z_]+[A-Z]")
# variables that are not settings of the app: a test-only switch and the test artifacts folder
NOT_SETTINGS = frozenset({"FORMCHECK_REQUIRE_BROWSER", "FORMCHECK_ARTIFACTS_DIR"})


def _env_reads(tree: ast.AST) -> list[int]:
    """Lines that read the process environment: os.environ[...] / .get / os.getenv (assignments excluded)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            lines.append(node.lineno)
    return lines


def test_only_config_reads_the_environment() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == CONFIG_FILE:
            continue
        text = path.read_text(encoding="utf-8")
        for line_no in _env_reads(ast.parse(text)):
            line = text.splitlines()[line_no - 1]
            if not re.match(r"\s*os\.environ\[[^]]+\]\s*=", line):  # setting a variable for a child is fine
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line_no}: {line.strip()}")
    assert not offenders, "read FORMCHECK_* through formcheck.config:\n" + "\n".join(offenders)


def test_every_variable_the_code_names_is_a_config_field() -> None:
    known = {env_name(f) for f in Config.model_fields}
    named = set()
    for path in PACKAGE.rglob("*.py"):
        named |= set(VARIABLE_RE.findall(path.read_text(encoding="utf-8")))
    assert named - NOT_SETTINGS <= known, sorted(named - NOT_SETTINGS - known)
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    assert set(VARIABLE_RE.findall(readme)) - NOT_SETTINGS <= known
    # and the README's table names every setting (one definition here, documented there)
    assert known <= set(VARIABLE_RE.findall(readme)), sorted(known - set(VARIABLE_RE.findall(readme)))


def test_values_are_typed_and_empty_means_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [k for k in os.environ if k.startswith("FORMCHECK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FORMCHECK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FORMCHECK_PORT", "8123")
    monkeypatch.setenv("FORMCHECK_ALLOWED_HOSTS", " clinic.lan, ,coach.lan ")
    monkeypatch.setenv("FORMCHECK_MAX_PENDING_JOBS", "5")
    monkeypatch.setenv("FORMCHECK_SINGLE_USER", "yes")
    monkeypatch.setenv("FORMCHECK_BROKER_URL", "")  # empty: as if unset
    c = load_config()
    assert (c.data_dir, c.port, c.allowed_hosts) == (tmp_path, 8123, ("clinic.lan", "coach.lan"))
    assert (c.max_pending_jobs_per_person, c.single_user, c.broker_url) == (5, True, None)
    assert set(env_values()) == {"data_dir", "port", "allowed_hosts", "max_pending_jobs_per_person", "single_user"}
    s = Settings.from_env(port=9000)
    assert (s.port, s.max_pending_jobs_per_person, s.allowed_hosts) == (9000, 5, ("clinic.lan", "coach.lan"))
    # a Settings built by hand takes nothing from the environment
    built = Settings(data_dir=tmp_path / "x")
    assert (built.port, built.allowed_hosts, built.single_user) == (8000, (), False)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FORMCHECK_PORT", "eighty", "FORMCHECK_PORT='eighty' is not a number"),
        ("FORMCHECK_PORT", "70000", "FORMCHECK_PORT='70000': Input should be less than or equal to 65535"),
        ("FORMCHECK_LIVE_POSE", "gpu", "FORMCHECK_LIVE_POSE='gpu': Input should be 'auto' or 'server'"),
        (
            "FORMCHECK_MAX_PENDING_JOBS",
            "0",
            "FORMCHECK_MAX_PENDING_JOBS='0': Input should be greater than or equal to 1",
        ),
        ("FORMCHECK_BROKER_VISIBILITY_S", "soon", "FORMCHECK_BROKER_VISIBILITY_S='soon' is not a number"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InputError) as exc:
        load_config()
    assert str(exc.value) == message


def test_user_dirs_follow_xdg() -> None:
    assert user_data_dir({"XDG_DATA_HOME": "/x/data"}) == Path("/x/data/formcheck")
    assert user_cache_dir({"XDG_CACHE_HOME": "/x/cache"}) == Path("/x/cache/formcheck")
    assert user_data_dir({}) == Path.home() / ".local" / "share" / "formcheck"
