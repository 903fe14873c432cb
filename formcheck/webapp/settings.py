"""Web server settings: one frozen model, read from FORMCHECK_* environment variables only when asked."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from formcheck.errors import InputError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_MB = 200.0  # judgement call: ~10 min of 1080p phone video
DEFAULT_SESSION_MAX_AGE_S = 14 * 24 * 3600  # judgement call: sign in again every two weeks


def default_data_dir() -> Path:
    """FORMCHECK_DATA_DIR, else the per-user data directory (the store's rule, so both agree)."""
    from formcheck.store.paths import data_dir

    return data_dir()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseModel):
    """Everything the web app needs; `create_app(Settings(data_dir=...))` builds an app from it, nothing global."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None  # None: SQLite file in data_dir (the store's default)
    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    max_upload_mb: float = Field(DEFAULT_MAX_UPLOAD_MB, gt=0)
    job_workers: int = Field(1, ge=1, le=16)  # analysis is CPU-bound: one worker per spare core
    # "process": a ProcessPoolExecutor (the default; never the event loop). "thread": same job function in a
    # worker thread, for fast tests only.
    job_mode: Literal["process", "thread"] = "process"
    # Dotted path of the function a job calls (see jobs.analyse_upload); tests point it at a fake.
    analyzer: str = "formcheck.webapp.jobs:analyse_upload"
    single_user: bool = False  # only honoured when the server listens on a loopback address
    secret_key: str | None = None  # None: a random key kept in data_dir/web_secret.key
    cookie_secure: bool | None = None  # None: Secure unless serving on loopback over plain http
    session_max_age_s: int = Field(DEFAULT_SESSION_MAX_AGE_S, gt=0)
    web_dir: Path | None = None  # None: the repository's top-level web/ directory
    # Review jobs: None runs them in the embedded process pool; a Celery broker URL (redis://host:6379/0) sends
    # them to `formcheck worker` processes (any machine with the same database URL and data directory).
    broker_url: str | None = None
    # Live pose: "auto" lets a capable browser run MediaPipe itself (landmarks over the socket, no video leaves
    # the device); "server" makes every page send JPEGs for server-side pose.
    live_pose: Literal["auto", "server"] = "auto"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def single_user_active(self) -> bool:
        return self.single_user and is_loopback(self.host)

    @property
    def resolved_web_dir(self) -> Path:
        return self.web_dir or Path(__file__).resolve().parents[2] / "web"

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return not is_loopback(self.host)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from FORMCHECK_* variables; explicit overrides (CLI flags) win."""
        values: dict[str, object] = {}
        env = os.environ
        for name, key in (
            ("FORMCHECK_DATABASE_URL", "database_url"),
            ("FORMCHECK_HOST", "host"),
            ("FORMCHECK_SECRET_KEY", "secret_key"),
            ("FORMCHECK_BROKER_URL", "broker_url"),
            ("FORMCHECK_LIVE_POSE", "live_pose"),
        ):
            if env.get(name):
                values[key] = env[name]
        for name, key, conv in (
            ("FORMCHECK_PORT", "port", int),
            ("FORMCHECK_MAX_UPLOAD_MB", "max_upload_mb", float),
            ("FORMCHECK_JOB_WORKERS", "job_workers", int),
        ):
            if env.get(name):
                try:
                    values[key] = conv(env[name])
                except ValueError as exc:
                    raise InputError(f"{name}={env[name]!r} is not a number") from exc
        if env.get("FORMCHECK_SINGLE_USER"):
            values["single_user"] = env["FORMCHECK_SINGLE_USER"].lower() in ("1", "true", "yes", "on")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
