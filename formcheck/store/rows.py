"""Rows to records, generically: a record's field names are its columns and its type hints say how to convert.

One function replaces a hand-written mapper per entity: datetimes come back in UTC (SQLite drops the zone),
enums and nested records (a rep's faults) are rebuilt from their stored values, booleans and floats are coerced
(SQLite stores 0/1), JSON columns that a v1 database left empty read as empty.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, select

from formcheck.errors import InputError

R = TypeVar("R")
Convert = Callable[[Any], Any]

MAX_ROW_ID = 2**63 - 1  # SQL BIGINT: a larger id cannot exist (and would overflow the driver's binding)


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_db(dt: datetime) -> datetime:
    """A datetime as stored: always UTC (a naive one is taken to be UTC already)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _from_db(dt: datetime | None) -> datetime | None:
    return None if dt is None else to_db(dt)


def _optional(convert: Convert) -> Convert:
    return lambda v: None if v is None else convert(v)


def _converter(hint: Any) -> Convert | None:
    """How to turn a stored value into a field of type `hint` (None: it is stored as it is read)."""
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        if inner is datetime:
            return _from_db
        convert = _converter(inner)
        return None if convert is None else _optional(convert)
    if hint is datetime:
        return _from_db
    if hint is bool:
        return bool
    if hint is float:
        return float
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if origin is dict:
        return lambda v: dict(v or {})
    if origin is tuple and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]):
        item: type[Any] = args[0]
        return lambda v: tuple(from_mapping(item, x) for x in v or ())
    return None


@functools.cache
def _plan(cls: type[Any]) -> tuple[tuple[str, Convert | None, bool], ...]:
    """(field, converter, has a default) per field of a record class; computed once per class."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (
            f.name,
            _converter(hints[f.name]),
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
    )


def from_mapping(cls: type[R], values: Mapping[str, Any]) -> R:
    """A record from a row's mapping (or a stored JSON object): every field by name, converted by its type."""
    kwargs = {}
    plan: tuple[tuple[str, Convert | None, bool], ...] = _plan(cls)  # type: ignore[arg-type]  # classes are hashable
    for name, convert, optional in plan:
        try:
            raw = values[name]  # a lookup, not `in`: much cheaper on a SQLAlchemy row mapping
        except KeyError:
            if optional:
                continue
            raise KeyError(f"{cls.__name__}: no column {name!r}") from None
        kwargs[name] = raw if convert is None else convert(raw)
    return cls(**kwargs)


def record(cls: type[R], row: Any) -> R:
    """A record from a SQLAlchemy row."""
    return from_mapping(cls, row._mapping)


def to_json(item: Any) -> dict[str, Any]:
    """A nested record (a Fault) as the JSON object it is stored as."""
    return dataclasses.asdict(item)


def check_id(row_id: object, what: str) -> None:
    if isinstance(row_id, bool) or not isinstance(row_id, int) or not 0 <= row_id <= MAX_ROW_ID:
        raise InputError(f"no {what} with id {row_id}")


def insert_row(conn: Connection, table: Table, cls: type[R], /, **values: Any) -> R:
    """Insert one row and return it as a record, read back inside the same transaction."""
    pk = conn.execute(table.insert().values(**values)).inserted_primary_key
    assert pk is not None
    return record(cls, conn.execute(select(table).where(table.c.id == pk[0])).one())


def get_row(conn: Connection, table: Table, row_id: int, what: str, cls: type[R]) -> R:
    """The row with this id as a record; InputError "no WHAT with id N" when there is none."""
    check_id(row_id, what)
    row = conn.execute(select(table).where(table.c.id == row_id)).first()
    if row is None:
        raise InputError(f"no {what} with id {row_id}")
    return record(cls, row)


def require_id(conn: Connection, table: Table, row_id: int, what: str) -> None:
    """InputError "no WHAT with id N" unless the row exists (reads the id column only)."""
    check_id(row_id, what)
    if conn.execute(select(table.c.id).where(table.c.id == row_id)).first() is None:
        raise InputError(f"no {what} with id {row_id}")
