"""Persistence: SQLite (default, WAL) or PostgreSQL through SQLAlchemy Core, with a schema upgraded by Alembic.

Use `Store.open(url_or_none)` (a context manager); every method is one transaction and returns frozen records.
schema.py defines each table once, records.py its record; the Store composes one repository per domain (people,
days, sets, jobs, review) and accounts.py / uploads_web.py hold the queries the web layer builds on.
"""

from formcheck.store.paths import DB_FILENAME, ENV_DATA_DIR, ENV_DATABASE_URL, data_dir, resolve_url
from formcheck.store.records import (
    AlertRow,
    ClinicianActionRow,
    DayStatus,
    DaySummary,
    Fault,
    JobRow,
    JobStatus,
    LevelEventRow,
    PainRow,
    Person,
    ProgrammeDay,
    ReadinessRow,
    RepClipRow,
    RepIn,
    RepReviewRow,
    RepRow,
    Role,
    SetRow,
    UploadRow,
    User,
)
from formcheck.store.schema import SCHEMA_VERSION
from formcheck.store.store import LeaseLostError, PendingQuotaError, Store

__all__ = [
    "DB_FILENAME",
    "ENV_DATABASE_URL",
    "ENV_DATA_DIR",
    "SCHEMA_VERSION",
    "AlertRow",
    "ClinicianActionRow",
    "DayStatus",
    "DaySummary",
    "Fault",
    "JobRow",
    "JobStatus",
    "LeaseLostError",
    "LevelEventRow",
    "PainRow",
    "PendingQuotaError",
    "Person",
    "ProgrammeDay",
    "ReadinessRow",
    "RepClipRow",
    "RepIn",
    "RepReviewRow",
    "RepRow",
    "Role",
    "SetRow",
    "Store",
    "UploadRow",
    "User",
    "data_dir",
    "resolve_url",
]
