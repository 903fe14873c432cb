"""Every FORMCHECK_* environment variable in one typed, validated settings object (the README's table).

`load_config()` reads the environment each time it is called (no module-level cache, so tests and CLI flags that
set a variable take effect at once); a bad value is one InputError line naming the variable. The web app's
`Settings` (webapp/settings.py) extends `Config` with what only the app needs; nothing else reads FORMCHECK_*.
Also here: where formcheck keeps files when it runs outside a checkout (the per-user data and cache dirs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from formcheck.errors import InputError

ENV_PREFIX = "FORMCHECK_"
PROJECT_NAME = "formcheck"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_MB = 200.0  # judgement call: ~10 min of 1080p phone video
DEFAULT_BODY_TIMEOUT_S = 30.0  # judgement call: a phone upload never pauses 30 s between chunks; a stall does
# A connection must finish its request line and headers within this long (issue 17 L3): a browser sends them in
# one packet; 1,100 half-open connections used to exhaust the file descriptors (judgement call).
DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_ANALYZER = "formcheck.webapp.jobs:analyse_upload"
# Live coaching: each socket holds a pose model (~100-150 MB) and a core's worth of CPU while streaming.
# One live session per two cores: MediaPipe needs ~40 ms/frame (~1 core at 25 fps), the other core keeps the
# pages, the API and the upload worker responsive (judgement call; measured in benchmarks/bench_abuse.py).
DEFAULT_MAX_LIVE_CONNECTIONS = max(1, (os.cpu_count() or 2) // 2)
DEFAULT_MAX_LIVE_PER_PERSON = min(2, DEFAULT_MAX_LIVE_CONNECTIONS)  # a second tab or device, where cores allow
# Browser-pose sockets hold no pose model: only validation and analysis, ~1.3-1.8 ms of one core per frame at
# 15 fps (benchmarks/bench_capacity.py: ~40-50 such clients per core on this project's VM); 30 per core leaves
# headroom for the rest of the app (judgement call).
BROWSER_POSE_CLIENTS_PER_CORE = 30
DEFAULT_MAX_BROWSER_POSE_CONNECTIONS = BROWSER_POSE_CLIENTS_PER_CORE * (os.cpu_count() or 2)
# Uploads: what one video may cost the shared analysis worker (judgement calls, see issue 8 finding 6).
DEFAULT_MAX_VIDEO_S = 600.0  # ten minutes: far longer than any set (15 min/day programme budget)
DEFAULT_MAX_VIDEO_FRAMES = 36_000  # 10 min at 60 fps
DEFAULT_MAX_PENDING_JOBS_PER_PERSON = 3  # queued or running analyses per person; more answers 429
DEFAULT_JOB_TIMEOUT_S = 1800.0  # 10 min of video at ~5 frames/s on one busy core, with margin
DEFAULT_JOB_LEASE_S = 30.0  # judgement call: a restarted server retakes a killed server's job within 30 s
# Redis redelivers an unacknowledged message after this long, which is how the job of a killed worker comes
# back. kombu's default is 1 h; 5 min brings a dead worker's job back sooner, and a copy delivered while the
# first worker is still alive finds the job claimed (job_lease) and waits (judgement call).
DEFAULT_BROKER_VISIBILITY_S = 300.0
DEFAULT_BROKER_RESEND_S = 10.0  # jobs the broker refused are sent again this often (judgement call)
MIN_BROKER_RESEND_S = 0.2  # a smaller FORMCHECK_BROKER_RESEND_S is raised to this (no busy loop)


def xdg_dir(variable: str, fallback: str, env: Mapping[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME / $XDG_CACHE_HOME (the freedesktop base directories), else ~/<fallback>."""
    value = (os.environ if env is None else env).get(variable)
    return Path(value).expanduser() if value else Path.home() / fallback


def user_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME/formcheck, else ~/.local/share/formcheck (not created here)."""
    return xdg_dir("XDG_DATA_HOME", ".local/share", env) / PROJECT_NAME


def user_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_CACHE_HOME/formcheck, else ~/.cache/formcheck (not created here)."""
    return xdg_dir("XDG_CACHE_HOME", ".cache", env) / PROJECT_NAME


def checkout_root() -> Path | None:
    """The source checkout this package runs from (an editable install or `python -m`), else None (installed)."""
    root = Path(__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and (root / PROJECT_NAME / "__init__.py").is_file():
        return root
    return None


class Config(BaseSettings):
    """One field per FORMCHECK_<NAME> variable (env names are the field names upper-cased, with the prefix)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid")

    # where things live
    data_dir: Path = Field(default_factory=lambda: user_data_dir())  # database, uploads, results
    database_url: str | None = None  # None: SQLite file in data_dir
    pose_model: Path | None = None  # any pose landmarker .task bundle, used instead of the built one
    models_dir: Path | None = None  # None: the checkout's models/, else the per-user data dir's models/
    cache_dir: Path | None = None  # landmark cache of `eval`; None: ~/.cache/formcheck/landmarks
    sweep_cache_dir: Path | None = None  # landmark cache of the view sweep; None: ~/.cache/formcheck/sweep
    node_modules: Path | None = None  # None: the checkout's node_modules/, absent when installed
    native_log: str = ""  # "1": keep MediaPipe's C++ log on stderr; a path: write it there
    debug: bool = False  # a traceback for unexpected CLI errors
    # web server
    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    single_user: bool = False  # only honoured when the server listens on a loopback address
    token: str | None = None  # single-user mode: the launch secret (`?token=`); None: the one kept in data_dir
    secret_key: str | None = None  # None: a random key kept in data_dir/web_secret.key
    # host names served besides 127.0.0.1, localhost, [::1] ("*": any); comma-separated in the environment
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or CIDRs, comma-separated
    # in the environment). Empty: none, so a client can never choose the address sign-in throttling is keyed by.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    # Session cookies Secure: None decides per request (on whenever single-user mode is off and the request is not
    # plain http straight to this loopback server, e.g. came through a proxy); True / False force it.
    cookie_secure: bool | None = None
    header_timeout_s: float = Field(DEFAULT_HEADER_TIMEOUT_S, gt=0)
    docs: bool = False  # /docs and /redoc load Swagger UI / ReDoc from a CDN: development only
    # Live pose: "auto" lets a capable browser run MediaPipe itself (landmarks over the socket, no video leaves
    # the device); "server" makes every page send JPEGs for server-side pose.
    live_pose: Literal["auto", "server"] = "auto"
    max_upload_mb: float = Field(DEFAULT_MAX_UPLOAD_MB, gt=0)
    body_timeout_s: float = Field(DEFAULT_BODY_TIMEOUT_S, gt=0)
    max_live_connections: int = Field(DEFAULT_MAX_LIVE_CONNECTIONS, ge=1, le=256)
    max_live_per_person: int = Field(DEFAULT_MAX_LIVE_PER_PERSON, ge=1, le=16)
    max_browser_pose_connections: int = Field(DEFAULT_MAX_BROWSER_POSE_CONNECTIONS, ge=1, le=10_000)
    max_video_s: float = Field(DEFAULT_MAX_VIDEO_S, gt=0)
    max_video_frames: int = Field(DEFAULT_MAX_VIDEO_FRAMES, gt=0)
    # the variable is FORMCHECK_MAX_PENDING_JOBS (older than the field's name)
    max_pending_jobs_per_person: int = Field(
        DEFAULT_MAX_PENDING_JOBS_PER_PERSON,
        ge=1,
        validation_alias=AliasChoices("max_pending_jobs_per_person", f"{ENV_PREFIX}MAX_PENDING_JOBS"),
    )
    # review jobs
    job_workers: int = Field(1, ge=1, le=16)  # analysis is CPU-bound: one worker per spare core
    # threads (one landmarker each) a review's pose runs on; None: the cores the worker process may use
    pose_workers: int | None = Field(None, ge=1, le=64)
    # Dotted path of the function a job calls (see jobs.analyse_upload); tests point it at a fake.
    analyzer: str = DEFAULT_ANALYZER
    job_timeout_s: float = Field(DEFAULT_JOB_TIMEOUT_S, gt=0)
    job_lease_s: float = Field(DEFAULT_JOB_LEASE_S, gt=0)
    # None runs jobs in the embedded process pool; a Celery broker URL (redis://host:6379/0) sends them to
    # `formcheck worker` processes (any machine with the same database URL and data directory).
    broker_url: str | None = None
    broker_visibility_s: float = Field(DEFAULT_BROKER_VISIBILITY_S, gt=0)
    broker_resend_s: float = Field(DEFAULT_BROKER_RESEND_S, gt=0)

    @field_validator("allowed_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(h.strip() for h in value.split(",") if h.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)") from None
        return value

    @field_validator("data_dir", "pose_model", "models_dir", "cache_dir", "sweep_cache_dir", "node_modules")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


def env_name(field: str) -> str:
    """The environment variable of a Config field."""
    if field == "max_pending_jobs_per_person":
        return f"{ENV_PREFIX}MAX_PENDING_JOBS"
    return ENV_PREFIX + field.upper()


def _one_line(exc: ValidationError) -> str:
    """A pydantic error as one line per bad variable: `FORMCHECK_PORT='x' is not a number`."""
    parts = []
    for err in exc.errors():
        loc = str(err["loc"][0]) if err.get("loc") else ""
        name = loc if loc.startswith(ENV_PREFIX) else env_name(loc)
        value = err.get("input")
        kind = str(err.get("type", ""))
        if kind.startswith(("float_", "int_")) and "parsing" in kind:
            parts.append(f"{name}={value!r} is not a number")
        else:
            parts.append(f"{name}={value!r}: {err.get('msg')}")
    return "; ".join(parts)


def validated(cls: type[Any], **values: Any) -> Any:
    """`cls(**values)` with a bad value turned into one InputError line (CLI and server errors stay one line)."""
    try:
        return cls(**values)
    except ValidationError as exc:
        raise InputError(_one_line(exc)) from None


def load_config() -> Config:
    """The FORMCHECK_* variables as they are now."""
    config: Config = validated(Config)
    return config


def env_values() -> dict[str, Any]:
    """Only the settings the environment sets (so a caller's own defaults stay in force for the rest)."""
    return load_config().model_dump(exclude_unset=True)
