"""Pytest fixtures for store tests: a throwaway PostgreSQL cluster on loopback, and SQLite/PostgreSQL URLs.

Import the fixtures into a test module (`from pg_fixture import pg_server, pg_url, store_url`). The cluster is
started once per test session (initdb as the postgres user under /tmp, pg_ctl on a free port, fsync off) and
skipped with a reason where PostgreSQL's binaries are absent.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

INITDB_GLOB = "/usr/lib/postgresql/*/bin/initdb"
PG_START_TIMEOUT_S = 30


def _initdb() -> Path | None:
    found = sorted(glob.glob(INITDB_GLOB), key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: run the cluster as the postgres user then."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-c", shlex.join(cmd)]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Base URL (no database) of a throwaway PostgreSQL server; skipped when PostgreSQL is not installed."""
    initdb = _initdb()
    if initdb is None:
        pytest.skip(f"PostgreSQL binaries not found ({INITDB_GLOB}); install Debian's postgresql package")
    if os.geteuid() == 0:
        try:
            pg_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root but there is no 'postgres' user to run the test cluster")
    bindir = initdb.parent
    base = Path(tempfile.mkdtemp(prefix="formcheck-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        os.chown(base, pg_user.pw_uid, pg_user.pw_gid)
    data, log, port = base / "data", base / "log", _free_port()
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(initdb),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=PG_START_TIMEOUT_S,
        )
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off"
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "start"]),
            check=True,
            capture_output=True,
            timeout=PG_START_TIMEOUT_S,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        tail = log.read_text()[-500:] if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start the test PostgreSQL cluster: {e}; {getattr(e, 'stderr', b'')!r} {tail}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=PG_START_TIMEOUT_S,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server for one test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = pg_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_server}/{name}"
    finally:
        with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a store test against SQLite (a file under tmp_path) and against PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'formcheck.db'}"
    return request.getfixturevalue("pg_url")
