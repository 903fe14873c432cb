"""Persistence: SQLite (default, WAL) or PostgreSQL through SQLAlchemy Core, with a versioned schema.

Use `Store.open(url_or_none)` (a context manager); every method is one transaction and returns frozen records.
"""

from formcheck.store.paths import DB_FILENAME, ENV_DATA_DIR, ENV_DATABASE_URL, data_dir, resolve_url
from formcheck.store.records import (
    AlertRow,
    ClinicianActionRow,
    Fault,
    JobRow,
    JobStatus,
    LevelEventRow,
    PainRow,
    Person,
    ReadinessRow,
    RepClipRow,
    RepIn,
    RepReviewRow,
    RepRow,
    Role,
    SessionRow,
    SessionStatus,
    SessionSummary,
    SetRow,
    UploadRow,
)
from formcheck.store.schema import SCHEMA_VERSION
from formcheck.store.store import LeaseLostError, Store

__all__ = [
    "DB_FILENAME",
    "ENV_DATABASE_URL",
    "ENV_DATA_DIR",
    "SCHEMA_VERSION",
    "AlertRow",
    "ClinicianActionRow",
    "Fault",
    "JobRow",
    "JobStatus",
    "LeaseLostError",
    "LevelEventRow",
    "PainRow",
    "Person",
    "ReadinessRow",
    "RepClipRow",
    "RepIn",
    "RepReviewRow",
    "RepRow",
    "Role",
    "SessionRow",
    "SessionStatus",
    "SessionSummary",
    "SetRow",
    "Store",
    "UploadRow",
    "data_dir",
    "resolve_url",
]
