"""formcheck runs outside a checkout: `pip install .` into a fresh venv in a temp dir, then the installed
`formcheck serve` serves every page and its static files, and the installed `formcheck analyze` counts reps.

The new venv reuses the checkout venv's installed dependencies through a `.pth` line (a plain path entry, so the
checkout's editable-install hook in that folder is never run: `venv --system-site-packages` would reach the base
interpreter's packages, not the checkout venv's), and formcheck itself is installed with `--no-deps` from a copy
of the source (pip's isolated build fetches only setuptools, from PyPI or pip's cache, as `make setup` does). The
test checks that the installed package, not the checkout, is what runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.serverproc import free_port

pytestmark = pytest.mark.video  # a MediaPipe run over a fixture video, and a pip install: the slower tier

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "videos" / "lunge_side_clean.mp4"
FIXTURE_EXERCISE = "lunge"
INSTALL_TIMEOUT_S = 240.0
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0
ANALYZE_TIMEOUT_S = 180.0
TOKEN = "installed-test-token"
CLINICIAN = "dr_lee"
PASSWORD = "correct horse battery"
SOURCE_FILES = ("pyproject.toml", "README.md")
PERSON_PAGES = ("/", "/live", "/progress", "/upload")
# absolute asset paths in pages, scripts and styles, and relative ES-module imports inside scripts
ASSET_RE = re.compile(r"""["'(](/(?:static|vendor)/[^"'()?#\s]+)""")
RELATIVE_IMPORT_RE = re.compile(r"""(?:from|import)\s*\(?\s*["'](\.{1,2}/[^"']+)["']""")


@dataclass(frozen=True)
class Installed:
    root: Path  # the temp dir holding the venv, a working dir and a data dir, outside the checkout
    python: Path
    formcheck: Path
    env: dict[str, str]


def _env(root: Path) -> dict[str, str]:
    """The machine's environment without checkout hints: no PYTHONPATH, no FORMCHECK_* but what the test sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORMCHECK_") and k != "PYTHONPATH"}
    env.update(
        {
            "FORMCHECK_DATA_DIR": str(root / "data"),
            "FORMCHECK_MODELS_DIR": str(REPO / "models"),  # the checkout's built pose model
            "XDG_DATA_HOME": str(root / "xdg"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout_s: float, stdin: str | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("installed")
    assert REPO not in root.parents
    src = root / "src"
    shutil.copytree(REPO / "formcheck", src / "formcheck", ignore=shutil.ignore_patterns("__pycache__"))
    for name in SOURCE_FILES:
        shutil.copy2(REPO / name, src / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=root,
            env=_env(root),
            timeout_s=30,
        ).strip()
    )
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_checkout_deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    (root / "cwd").mkdir()
    env = _env(root)
    _run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(src)],
        cwd=root / "cwd",
        env=env,
        timeout_s=INSTALL_TIMEOUT_S,
    )
    where = _run(
        [str(python), "-c", "import formcheck; print(formcheck.__file__)"], cwd=root / "cwd", env=env, timeout_s=30
    )
    assert Path(where.strip()).is_relative_to(site), f"formcheck imported from {where.strip()}, not the venv"
    return Installed(root=root, python=python, formcheck=venv / "bin" / "formcheck", env=env)


def _cli(inst: Installed, *args: str, stdin: str | None = None, timeout_s: float = 60.0) -> str:
    return _run([str(inst.formcheck), *args], cwd=inst.root / "cwd", env=inst.env, timeout_s=timeout_s, stdin=stdin)


@pytest.fixture(scope="module")
def server(installed: Installed) -> Iterator[str]:
    _cli(installed, "people", "add", CLINICIAN, "--role", "clinician")
    _cli(installed, "set-password", CLINICIAN, "--stdin", stdin=f"{PASSWORD}\n")
    port = free_port()
    log = (installed.root / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(installed.formcheck), "serve", "--host", "127.0.0.1", "--port", str(port), "--single-user"],
        cwd=installed.root / "cwd",
        env={**installed.env, "FORMCHECK_TOKEN": TOKEN},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, (installed.root / "server.log").read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"{base}/signin", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the installed server did not answer in time"
            time.sleep(0.2)
        _cli(installed, "people", "link", "--clinician", CLINICIAN)  # the single-user person, now created
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()


def _assets(client: httpx.Client, first: str) -> dict[str, int]:
    """Every asset a page references, followed through scripts and styles: path -> status."""
    seen: dict[str, int] = {}
    todo = list(ASSET_RE.findall(first))
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        r = client.get(path)
        seen[path] = r.status_code
        if r.status_code == 200 and path.startswith("/static/") and path.endswith((".js", ".css", ".mjs")):
            todo.extend(ASSET_RE.findall(r.text))
            folder = path.rsplit("/", 1)[0]
            for rel in RELATIVE_IMPORT_RE.findall(r.text):
                todo.append(os.path.normpath(f"{folder}/{rel}"))
    return seen


def _check_page(client: httpx.Client, path: str) -> dict[str, int]:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    assert "text/html" in r.headers["content-type"] and "<main" in r.text, path
    assets = _assets(client, r.text)
    assert any(p.startswith("/static/") for p in assets), path
    return assets


def test_installed_serve_serves_every_page(server: str) -> None:
    seen: dict[str, int] = {}
    with httpx.Client(base_url=server, timeout=REQUEST_TIMEOUT_S, follow_redirects=True) as person:
        for path in ("/signin", "/clinician/signin"):
            seen.update(_check_page(person, path))
        assert person.get(f"/?token={TOKEN}").status_code == 200  # the token becomes a cookie, then the home page
        for path in PERSON_PAGES:
            seen.update(_check_page(person, path))
    with httpx.Client(base_url=server, timeout=REQUEST_TIMEOUT_S, follow_redirects=True) as doc:
        csrf = doc.get("/api/auth/csrf").json()["csrf_token"]
        r = doc.post("/api/auth/signin", json={"name": CLINICIAN, "password": PASSWORD}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
        people = doc.get("/api/clinician/people").json()
        assert len(people) == 1
        pid = people[0]["id"]
        for path in ("/clinician", "/clinician/queue", f"/clinician/people/{pid}"):
            seen.update(_check_page(doc, path))
        report = doc.get(f"/clinician/people/{pid}/report")
        assert report.status_code == 200 and "nonce-" in report.headers["content-security-policy"]
    static = {p: s for p, s in seen.items() if p.startswith("/static/")}
    assert {"/static/app.css", "/static/common.js", "/static/live.js"} <= set(static)
    assert all(s == 200 for s in static.values()), {p: s for p, s in static.items() if s != 200}
    # npm packages live in a checkout's node_modules: an installed formcheck says they are missing (the pages
    # then fall back to tables and server pose) instead of failing
    vendor = {p: s for p, s in seen.items() if p.startswith("/vendor/")}
    assert vendor and set(vendor.values()) == {404}, vendor


def test_installed_analyze_counts_reps(installed: Installed) -> None:
    out = installed.root / "report.json"
    _cli(
        installed,
        "analyze",
        str(FIXTURE),
        "--exercise",
        FIXTURE_EXERCISE,
        "--json",
        str(out),
        timeout_s=ANALYZE_TIMEOUT_S,
    )
    report = json.loads(out.read_text())
    truth = json.loads(FIXTURE.with_suffix(".json").read_text())
    assert len(report["reps"]) == len(truth["reps"]) == 3
    bundle = REPO / "models" / "pose_full.task"  # `make model`; FORMCHECK_MODELS_DIR points the install at it
    assert report["model_sha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()
