"""Web server settings: the one `Config` (formcheck/config.py) plus what only the app needs, frozen.

`Settings(...)` takes only what it is given (tests build apps from `Settings(data_dir=tmp_path)`, nothing
global); `Settings.from_env(...)` reads the FORMCHECK_* variables through `Config`, explicit overrides winning.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from formcheck.config import (
    BROWSER_POSE_CLIENTS_PER_CORE,
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HOST,
    DEFAULT_JOB_LEASE_S,
    DEFAULT_JOB_TIMEOUT_S,
    DEFAULT_MAX_BROWSER_POSE_CONNECTIONS,
    DEFAULT_MAX_LIVE_CONNECTIONS,
    DEFAULT_MAX_LIVE_PER_PERSON,
    DEFAULT_MAX_PENDING_JOBS_PER_PERSON,
    DEFAULT_MAX_UPLOAD_MB,
    DEFAULT_MAX_VIDEO_FRAMES,
    DEFAULT_MAX_VIDEO_S,
    DEFAULT_PORT,
    ENV_PREFIX,
    Config,
    env_values,
    validated,
)

__all__ = [
    "BROWSER_POSE_CLIENTS_PER_CORE",
    "BROWSER_POSE_PER_PERSON",
    "DEFAULT_BODY_TIMEOUT_S",
    "DEFAULT_HOST",
    "DEFAULT_JOB_LEASE_S",
    "DEFAULT_JOB_TIMEOUT_S",
    "DEFAULT_MAX_BROWSER_POSE_CONNECTIONS",
    "DEFAULT_MAX_LIVE_CONNECTIONS",
    "DEFAULT_MAX_LIVE_PER_PERSON",
    "DEFAULT_MAX_PENDING_JOBS_PER_PERSON",
    "DEFAULT_MAX_UPLOAD_MB",
    "DEFAULT_MAX_VIDEO_FRAMES",
    "DEFAULT_MAX_VIDEO_S",
    "DEFAULT_PORT",
    "DEFAULT_SESSION_MAX_AGE_S",
    "Settings",
    "is_loopback",
]

DEFAULT_SESSION_MAX_AGE_S = 14 * 24 * 3600  # judgement call: sign in again every two weeks
BROWSER_POSE_PER_PERSON = 2  # a second tab or device, whatever the cores (no pose model per socket)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(Config):
    """Everything the web app needs; `create_app(Settings(data_dir=...))` builds an app from it, nothing global."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid", populate_by_name=True)

    # "process": a ProcessPoolExecutor (the default; never the event loop). "thread": same job function in a
    # worker thread, for fast tests only.
    job_mode: Literal["process", "thread"] = "process"
    session_max_age_s: int = Field(DEFAULT_SESSION_MAX_AGE_S, gt=0)
    web_dir: Path | None = None  # None: the packaged formcheck/static (webapp/assets.py)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the caller passes: the environment comes in through `from_env` (i.e. `Config`)."""
        return (init_settings,)

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
    def allowed_host_names(self) -> frozenset[str] | None:
        from formcheck.webapp.guards import allowed_host_names

        return allowed_host_names(self.host, self.allowed_hosts)

    @property
    def resolved_web_dir(self) -> Path:
        from formcheck.webapp.assets import static_dir

        return self.web_dir or static_dir()

    @property
    def secure_cookies(self) -> bool:
        """Secure on every response (FORMCHECK_COOKIE_SECURE=1, or serving off loopback without single-user mode).
        Otherwise ResponseHeaders still adds Secure per request when the request came over HTTPS or through a
        proxy (`cookies_secure_for`)."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return not is_loopback(self.host)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from FORMCHECK_* variables; explicit overrides (CLI flags) win."""
        values = env_values()
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings: Settings = validated(cls, **values)
        return settings
