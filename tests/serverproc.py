"""A real `formcheck serve` subprocess on 127.0.0.1 for the hardening tests and benchmarks/bench_abuse.py.

Seeds a data dir (people with real argon2 hashes), starts the server, and offers small HTTP / WebSocket helpers
that send exactly the headers a browser (or an attacker's page) would.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(
    data_dir: Path,
    people: tuple[str, ...] = ("alex", "kim"),
    *,
    clinician: str | None = "dr_lee",
    password_hash: str | None = None,
) -> dict[str, int]:
    """People (and a clinician caring for them) with PASSWORD; returns name -> id."""
    from formcheck.webapp import repo
    from formcheck.webapp.auth import hash_password
    from formcheck.webapp.settings import Settings

    h = password_hash or hash_password(PASSWORD)
    store = repo.open_store(Settings(data_dir=data_dir))
    try:
        ids = {}
        doc = store.add_person(clinician, role="clinician", password_hash=h) if clinician else None
        if doc is not None:
            ids[clinician] = doc.id
        for name in people:
            p = store.add_person(name, role="person", password_hash=h, display_name=name.title())
            if doc is not None:
                store.assign_clinician(p.id, doc.id)
            ids[name] = p.id
        return ids
    finally:
        store.close()


class Server:
    """`python -m formcheck serve --host 127.0.0.1 --port P` with its own data dir and environment."""

    def __init__(
        self,
        data_dir: Path,
        *,
        single_user: bool = False,
        env: dict[str, str] | None = None,
        port: int | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        full_env = dict(os.environ)
        full_env.update(
            {
                "FORMCHECK_DATA_DIR": str(self.data_dir),
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join([str(TESTS), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            }
        )
        full_env.update(env or {})
        cmd = [sys.executable, "-m", "formcheck", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if single_user:
            cmd.append("--single-user")
        cmd.extend(args)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not listen within {START_TIMEOUT_S:.0f} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def rss_mb(self) -> float:
        """Resident memory of the server process (pose models and argon2 run inside it)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        return float("nan")

    def children(self) -> list[int]:
        """PIDs of the server's child processes (job workers)."""
        try:
            out = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(p) for p in out]

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        if not self._log.closed:
            self._log.close()

    # ---- HTTP
    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | dict | None = None,
        headers: dict | None = None,
        source: str | None = None,
        timeout_s: float = 30.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers (lower-case, Set-Cookie joined by newlines), body). `source`: local address to send
        from (127.0.0.2 is another client on the loopback network)."""
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=timeout_s, source_address=(source, 0) if source else None
        )
        h = {"Host": f"127.0.0.1:{self.port}"}
        h.update(headers or {})
        data = body
        if isinstance(body, dict):
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            out_headers: dict[str, str] = {}
            for k, v in r.getheaders():
                k = k.lower()
                out_headers[k] = f"{out_headers[k]}\n{v}" if k in out_headers else v
            return r.status, out_headers, r.read()
        finally:
            conn.close()


class Client:
    """A browser-like session: keeps cookies, echoes the CSRF token, sends from one local address."""

    def __init__(self, server: Server, source: str | None = None) -> None:
        self.server, self.source = server, source
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def call(
        self,
        method: str,
        path: str,
        body: bytes | dict | None = None,
        headers: dict | None = None,
        timeout_s: float = 30.0,
    ) -> tuple[int, dict[str, str], bytes]:
        h = self._cookie_header()
        if method not in ("GET", "HEAD") and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        h.update(headers or {})
        status, rh, data = self.server.request(
            method, path, body=body, headers=h, source=self.source, timeout_s=timeout_s
        )
        for line in rh.get("set-cookie", "").split("\n"):
            if "=" in line:
                name, _, rest = line.partition("=")
                value = rest.split(";", 1)[0]
                if value in ("", '""'):
                    self.cookies.pop(name.strip(), None)
                else:
                    self.cookies[name.strip()] = value
        return status, rh, data

    def json(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        status, _, data = self.call(method, path, body)
        try:
            return status, json.loads(data or b"null")
        except ValueError:
            return status, {"raw": data.decode(errors="replace")}

    def start(self) -> None:
        status, doc = self.json("GET", "/api/auth/csrf")
        assert status == 200, doc
        self.csrf = doc["csrf_token"]

    def sign_in(self, name: str, password: str = PASSWORD) -> int:
        if not self.csrf:
            self.start()
        status, doc = self.json("POST", "/api/auth/signin", {"name": name, "password": password})
        if status == 200:
            self.csrf = doc["csrf_token"]
        return status

    def ws(self, path: str = "/ws/live", headers: dict | None = None, timeout_s: float = 10.0):
        """A synchronous WebSocket (websockets' client) with this client's cookies."""
        from websockets.sync.client import connect

        h = {**self._cookie_header(), "Origin": self.server.base, **(headers or {})}
        return connect(
            f"ws://127.0.0.1:{self.server.port}{path}", additional_headers=h, open_timeout=timeout_s, max_size=2**22
        )
