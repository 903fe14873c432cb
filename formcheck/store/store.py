"""The Store: one typed API over SQLAlchemy Core, composed of one repository per domain; every call is one transaction.

SQLite (default, WAL) or PostgreSQL by URL (database.py). Rows go out as frozen records (records.py), mapped
generically (rows.py). Database failures become one-line StoreErrors; bad values from a person become InputErrors,
raised before anything is written.
"""

from __future__ import annotations

from formcheck.store.days import DaysRepo
from formcheck.store.jobs import JobsRepo, LeaseLostError, PendingQuotaError
from formcheck.store.people import PeopleRepo
from formcheck.store.review import ReviewRepo
from formcheck.store.sets import SetsRepo

__all__ = ["LeaseLostError", "PendingQuotaError", "Store"]


class Store(PeopleRepo, DaysRepo, SetsRepo, JobsRepo, ReviewRepo):
    """Open with `Store.open(url_or_none)`; use as a context manager or call close()."""
