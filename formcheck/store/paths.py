"""Where the database lives: FORMCHECK_DATABASE_URL, else SQLite in the data directory (both read via config)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from formcheck.config import env_name, load_config, user_data_dir

ENV_DATA_DIR = env_name("data_dir")
ENV_DATABASE_URL = env_name("database_url")
DB_FILENAME = "formcheck.db"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """FORMCHECK_DATA_DIR, else $XDG_DATA_HOME/formcheck, else ~/.local/share/formcheck (not created here).
    `env`: look these up in a mapping instead of the process environment (tests, tools)."""
    if env is None:
        return load_config().data_dir
    return Path(env[ENV_DATA_DIR]).expanduser() if env.get(ENV_DATA_DIR) else user_data_dir(env)


def resolve_url(url: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """An explicit URL or path wins, then FORMCHECK_DATABASE_URL, then the default SQLite file."""
    configured = load_config().database_url if env is None else env.get(ENV_DATABASE_URL)
    chosen = url or configured
    if not chosen:
        return f"sqlite:///{data_dir(env) / DB_FILENAME}"
    if "://" not in chosen:  # a plain file path
        return f"sqlite:///{Path(chosen).expanduser()}"
    return chosen
