"""`formcheck serve` / `formcheck set-password` and the web settings read from the environment."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from formcheck.cli import main
from formcheck.errors import InputError
from formcheck.webapp import repo
from formcheck.webapp.auth import verify_password
from formcheck.webapp.settings import DEFAULT_MAX_UPLOAD_MB, Settings


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FORMCHECK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FORMCHECK_MAX_UPLOAD_MB", "50")
    monkeypatch.setenv("FORMCHECK_JOB_WORKERS", "2")
    s = Settings.from_env(port=9000)
    assert (s.data_dir, s.max_upload_bytes, s.job_workers, s.port, s.host) == (
        tmp_path,
        50 * 1024 * 1024,
        2,
        9000,
        "127.0.0.1",
    )
    assert not s.secure_cookies  # plain http on loopback; any other host gets Secure cookies
    assert Settings(data_dir=tmp_path, host="0.0.0.0").secure_cookies
    monkeypatch.setenv("FORMCHECK_MAX_UPLOAD_MB", "lots")
    with pytest.raises(InputError, match="FORMCHECK_MAX_UPLOAD_MB='lots' is not a number"):
        Settings.from_env()
    monkeypatch.delenv("FORMCHECK_MAX_UPLOAD_MB")
    assert Settings.from_env().max_upload_mb == DEFAULT_MAX_UPLOAD_MB


def test_serve_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--host HOST" in out and "default 127.0.0.1" in out and "default 8000" in out


def test_single_user_refused_off_loopback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", "--host", "0.0.0.0", "--single-user", "--data-dir", str(tmp_path)])
    assert code == 2
    assert "--single-user only works when serving on 127.0.0.1" in capsys.readouterr().err


def test_set_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    store = repo.open_store(Settings(data_dir=tmp_path))
    store.add_person("alex")
    store.close()
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["set-password", "alex", "--stdin", "--data-dir", str(tmp_path)]) == 0
    assert "password set for alex (person)" in capsys.readouterr().out
    store = repo.open_store(Settings(data_dir=tmp_path))
    assert verify_password(store.get_person("alex").password_hash, "correct horse battery")
    store.close()
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["set-password", "alex", "--stdin", "--data-dir", str(tmp_path)]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("long enough pw\n"))
    assert main(["set-password", "nobody", "--stdin", "--data-dir", str(tmp_path)]) == 2
    assert "unknown person 'nobody'" in capsys.readouterr().err
