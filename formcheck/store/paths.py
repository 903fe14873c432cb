"""Where the database lives: FORMCHECK_DATABASE_URL, else SQLite in the per-user data directory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV_DATA_DIR = "FORMCHECK_DATA_DIR"
ENV_DATABASE_URL = "FORMCHECK_DATABASE_URL"
DB_FILENAME = "formcheck.db"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """FORMCHECK_DATA_DIR, else $XDG_DATA_HOME/formcheck, else ~/.local/share/formcheck (not created here)."""
    env = os.environ if env is None else env
    if env.get(ENV_DATA_DIR):
        return Path(env[ENV_DATA_DIR]).expanduser()
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"]).expanduser() / "formcheck"
    return Path.home() / ".local" / "share" / "formcheck"


def resolve_url(url: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """An explicit URL or path wins, then FORMCHECK_DATABASE_URL, then the default SQLite file."""
    env = os.environ if env is None else env
    chosen = url or env.get(ENV_DATABASE_URL)
    if not chosen:
        return f"sqlite:///{data_dir(env) / DB_FILENAME}"
    if "://" not in chosen:  # a plain file path
        return f"sqlite:///{Path(chosen).expanduser()}"
    return chosen
