"""Every route's access rules, generated from app.routes so a new route cannot be forgotten.

anonymous -> 401 (WebSocket: refused with 1008); another person -> 403/404; a person on clinician routes -> 403;
another clinician on someone else's person -> 403/404; state-changing routes without the CSRF token -> 403.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from formcheck.webapp import repo
from formcheck.webapp.app import create_app
from formcheck.webapp.demo import DEMO_PASSWORD, Clinic, seed_clinic
from formcheck.webapp.routes import pages, vendor
from formcheck.webapp.settings import Settings

# Reachable without signing in: the sign-in pages and calls, and FastAPI's own docs.
PUBLIC = {
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/api/auth/csrf"),
    ("POST", "/api/auth/signin"),
    ("GET", "/signin"),
    ("GET", "/clinician/signin"),
} | vendor.PUBLIC_ROUTES  # front-end packages from npm, public like /static
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SINGLE_USER_TOKEN = "launch-token-for-tests"
TEST_HOST = "testserver"  # TestClient's Host header: served only because these settings allow it


def flat_routes(routes: list) -> Iterator:
    """app.routes with included routers expanded (FastAPI wraps them lazily)."""
    for r in routes:
        if hasattr(r, "original_router"):
            yield from flat_routes(r.original_router.routes)
        else:
            yield r


def http_routes(app) -> list[tuple[str, str]]:
    out = []
    for r in flat_routes(app.routes):
        if isinstance(r, APIRoute):
            out += [(m, r.path) for m in sorted(r.methods) if m != "HEAD"]
    return out


def ws_routes(app) -> list[str]:
    return [r.path for r in flat_routes(app.routes) if isinstance(r, APIWebSocketRoute)]


# A cheap argon2 hash of the demo password: verification cost comes from the hash's own parameters.
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(DEMO_PASSWORD)


def make_settings(tmp_path: Path, **kw: object) -> Settings:
    base = {
        "data_dir": tmp_path,
        "job_mode": "thread",
        "secret_key": "test-secret-" + "x" * 40,
        "allowed_hosts": (TEST_HOST,),
    }
    base.update(kw)
    return Settings(**base)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, Clinic, dict[str, str]]]:
    settings = make_settings(tmp_path)
    store = repo.open_store(settings)
    clinic = seed_clinic(store, password_hash=FAST_HASH)
    # one upload + job of alex's, so upload/job routes have a real id to point at
    up_id, job_id = repo.create_upload(
        store,
        owner_id=clinic.alex_id,
        filename="a.mp4",
        stored_relpath="uploads/x.mp4",
        sha256="0" * 64,
        size_bytes=1,
        exercise_id="squat",
        side="auto",
    )
    store.update_job(job_id, status="failed", error="test fixture")
    session_id = store.list_sessions(clinic.alex_id)[0].id
    store.close()
    ids = {
        "upload_id": str(up_id),
        "job_id": str(job_id),
        "person_id": str(clinic.alex_id),
        "rep_key": repo.live_rep_key(clinic.alex_flagged_rep_id),
        "session_id": str(session_id),
    }
    with TestClient(create_app(settings)) as client:
        yield client, clinic, ids


def fill(path: str, ids: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1).split(":")[0]
        if name not in ids:
            raise AssertionError(f"route {path}: no test id for path parameter {{{name}}}; add it to the table")
        return ids[name]

    return re.sub(r"\{([^}]+)\}", sub, path)


def sign_in(client: TestClient, name: str, password: str) -> str:
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    r = client.post("/api/auth/signin", json={"name": name, "password": password}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def call(client: TestClient, method: str, url: str, token: str | None = None) -> int:
    headers = {"X-CSRF-Token": token} if token else {}
    if method in UNSAFE:
        return client.request(method, url, json={}, headers=headers, follow_redirects=False).status_code
    return client.request(method, url, headers=headers, follow_redirects=False).status_code


def test_route_table_is_not_empty(env) -> None:
    client, _, _ = env
    routes = http_routes(client.app)
    protected = [r for r in routes if r not in PUBLIC]
    assert len(protected) >= 30  # the table below really covers the app
    assert ("POST", "/api/uploads") in protected and ("GET", "/api/clinician/queue") in protected


def test_every_protected_route_is_401_for_anonymous(env) -> None:
    client, _, ids = env
    wrong = {}
    for method, path in http_routes(client.app):
        if (method, path) in PUBLIC:
            continue
        status = call(client, method, fill(path, ids))
        if status != 401:
            wrong[f"{method} {path}"] = status
    assert wrong == {}


def test_every_websocket_refuses_anonymous(env) -> None:
    client, _, ids = env
    paths = ws_routes(client.app)
    assert paths, "expected the live WebSocket route"
    for path in paths:
        refused = False
        try:
            with client.websocket_connect(fill(path, ids)) as ws:
                msg = ws.receive_json()
                refused = msg.get("type") == "error" and msg.get("code") == "not_signed_in"
                if refused:
                    with pytest.raises(WebSocketDisconnect):
                        ws.receive_json()
        except WebSocketDisconnect as exc:
            refused = exc.code == 1008
        assert refused, path


def test_other_person_gets_403_or_404_on_alexs_resources(env) -> None:
    client, clinic, ids = env
    token = sign_in(client, "sam", clinic.password)
    wrong = {}
    for method, path in http_routes(client.app):
        if (method, path) in PUBLIC or "{" not in path:
            continue
        status = call(client, method, fill(path, ids), token)
        if status not in (403, 404):
            wrong[f"{method} {path}"] = status
    assert wrong == {}


def test_person_gets_403_on_every_clinician_route(env) -> None:
    client, clinic, ids = env
    ids = dict(ids, person_id=str(clinic.alex_id))
    token = sign_in(client, "alex", clinic.password)  # even on their OWN data
    wrong = {}
    for method, path in http_routes(client.app):
        if (method, path) in PUBLIC or "/clinician" not in path:
            continue
        status = call(client, method, fill(path, ids), token)
        if status != 403:
            wrong[f"{method} {path}"] = status
    assert wrong == {}


def test_other_clinician_gets_403_or_404_on_alex(env) -> None:
    client, clinic, ids = env
    token = sign_in(client, "dr_park", clinic.password)
    wrong = {}
    for method, path in http_routes(client.app):
        if (method, path) in PUBLIC or "{" not in path or "/clinician" not in path:
            continue
        status = call(client, method, fill(path, ids), token)
        if status not in (403, 404):
            wrong[f"{method} {path}"] = status
    assert wrong == {}


def test_state_changing_routes_need_the_csrf_token(env) -> None:
    client, clinic, ids = env
    sign_in(client, "dr_lee", clinic.password)
    wrong = {}
    for method, path in http_routes(client.app):
        if method not in UNSAFE or (method, path) in PUBLIC:
            continue
        for token in (None, "forged-token"):
            status = call(client, method, fill(path, ids), token)
            if status != 403:
                wrong[f"{method} {path} token={token}"] = status
    assert wrong == {}
    assert client.post("/api/auth/signin", json={"name": "alex", "password": clinic.password}).status_code == 403


def test_person_list_routes_show_only_own_data(env) -> None:
    client, clinic, ids = env
    sign_in(client, "sam", clinic.password)
    assert client.get("/api/uploads").json() == []
    assert all(r["rep_key"] != ids["rep_key"] for r in client.get("/api/me/reviews").json())
    sign_in(client, "alex", clinic.password)
    assert [u["id"] for u in client.get("/api/uploads").json()] == [int(ids["upload_id"])]


def test_sign_in_wrong_password_and_sign_out(env) -> None:
    client, clinic, _ = env
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    r = client.post("/api/auth/signin", json={"name": "alex", "password": "nope"}, headers={"X-CSRF-Token": token})
    assert (r.status_code, r.json()["detail"]) == (401, "Wrong name or password")
    r = client.post("/api/auth/signin", json={"name": "nobody", "password": "nope"}, headers={"X-CSRF-Token": token})
    assert (r.status_code, r.json()["detail"]) == (401, "Wrong name or password")
    token = sign_in(client, "alex", clinic.password)
    me = client.get("/api/auth/me").json()
    assert (me["name"], me["role"], me["csrf_token"]) == ("Alex", "person", token)
    assert client.post("/api/auth/signout", headers={"X-CSRF-Token": token}).status_code == 200
    assert client.get("/api/auth/me").status_code == 401


def test_session_cookie_is_httponly_signed_and_tamper_proof(env) -> None:
    client, clinic, _ = env
    sign_in(client, "alex", clinic.password)
    raw = client.cookies.get("fc_session")
    assert raw and "alex" not in raw
    client.cookies.set("fc_session", raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB"))
    assert client.get("/api/auth/me").status_code == 401


def test_changing_the_password_signs_out_existing_sessions(env) -> None:
    client, clinic, _ = env
    sign_in(client, "alex", clinic.password)
    assert client.get("/api/auth/me").status_code == 200
    store = client.app.state.store
    store.set_password_hash(
        clinic.alex_id, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("new one!")
    )
    assert client.get("/api/auth/me").status_code == 401


def test_browser_gets_a_sign_in_page_on_401(env) -> None:
    client, _, _ = env
    r = client.get("/clinician/queue", headers={"Accept": "text/html"})
    assert r.status_code == 401
    assert 'href="/clinician/signin?next=/clinician/queue"' in r.text


def test_single_user_mode_skips_sign_in_for_own_pages_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, single_user=True, token=SINGLE_USER_TOKEN)
    store = repo.open_store(settings)
    me = store.add_person("me")
    store.add_person("dr", role="clinician")
    store.close()
    # TestClient's client address is "testclient", not loopback: the shortcut must not apply
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/auth/me").status_code == 401
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as client:
        assert client.get("/api/auth/me").status_code == 401  # no launch token: any local process is not "me"
        assert client.get("/api/auth/me", headers={"Authorization": f"token {SINGLE_USER_TOKEN}"}).json()["id"] == me.id
        client.get(f"/?token={SINGLE_USER_TOKEN}")  # the exchange sets the HttpOnly cookie
        assert client.get("/api/auth/me").json()["id"] == me.id
        assert client.get("/api/clinician/people").status_code == 403
    with TestClient(
        create_app(make_settings(tmp_path, single_user=True, host="0.0.0.0")), client=("127.0.0.1", 50000)
    ) as client:
        assert client.get("/api/auth/me").status_code == 401


def test_single_user_mode_keeps_the_browser_in_across_launches_and_never_asks_for_a_password(tmp_path: Path) -> None:
    """Issue 19 item 1: a second launch on the same data dir admits yesterday's cookie; a browser without it is
    told how to get back in, not shown a name/password form (clinicians keep theirs)."""
    settings = make_settings(tmp_path, single_user=True)
    store = repo.open_store(settings)
    store.add_person("me")
    store.close()
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as client:
        token = client.app.state.settings.token
        client.get(f"/?token={token}")
        cookie = client.cookies.get("fc_token")
    assert cookie
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as client:  # the next launch
        assert client.get("/api/auth/me", cookies={"fc_token": cookie}).status_code == 200
        client.cookies.clear()
        r = client.get("/live", headers={"Accept": "text/html"})
        assert r.status_code == 401 and "url=/signin?next=/live" in r.text and "sign in" not in r.text.lower()
        page = client.get("/signin?next=/live").text
        assert 'type="password"' not in page and "make run" in page and 'href="/clinician/signin"' in page
        assert 'type="password"' in client.get("/clinician/signin").text
        assert 'type="password"' in client.get("/signin?password=1").text


def test_openapi_lists_every_route(env) -> None:
    client, _, _ = env
    spec = client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    docs_routes = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}
    assert set(http_routes(client.app)) - docs_routes == documented
    body = spec["paths"]["/api/uploads"]["post"]["requestBody"]["content"]
    assert body["application/octet-stream"]["schema"]["format"] == "binary"


def test_repeated_wrong_passwords_lock_the_name_for_a_while(env) -> None:
    client, clinic, _ = env
    token = client.get("/api/auth/csrf").json()["csrf_token"]

    def attempt(password: str) -> int:
        return client.post(
            "/api/auth/signin", json={"name": "alex", "password": password}, headers={"X-CSRF-Token": token}
        ).status_code

    assert [attempt("wrong") for _ in range(5)] == [401] * 5
    assert attempt(clinic.password) == 429  # even the right password, until the window passes
    r = client.post(
        "/api/auth/signin", json={"name": "kim", "password": clinic.password}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 200  # other names are unaffected


def test_sign_in_throttle_window() -> None:
    from formcheck.webapp.auth import SignInThrottle

    now = [0.0]
    t = SignInThrottle(max_failures=2, window_s=60.0, clock=lambda: now[0])
    t.failed("Alex")
    assert not t.locked("alex")
    t.failed("alex")
    assert t.locked("ALEX")
    now[0] = 61.0
    assert not t.locked("alex")
    t.failed("alex")
    t.succeeded("alex")
    assert not t.locked("alex")


def test_security_headers(env) -> None:
    client, _, _ = env
    r = client.get("/signin")
    assert (r.headers["x-content-type-options"], r.headers["x-frame-options"]) == ("nosniff", "DENY")


def test_file_and_page_routes_take_no_query_parameters(env) -> None:
    """A vendored file or a page is fixed by its path: a query string can never name another file or page (a
    default argument of an endpoint would be one: `/vendor/uplot/uPlot.min.css?rel=../../../etc/hostname`)."""
    client, clinic, _ = env
    fixed = {path for _, path in vendor.PUBLIC_ROUTES} | {path for path, *_ in pages.GUARDED_PAGES}
    routes = [r for r in flat_routes(client.app.routes) if isinstance(r, APIRoute) and r.path in fixed]
    assert len(routes) == len(fixed)
    for route in routes:
        assert not route.dependant.query_params, (route.path, [p.name for p in route.dependant.query_params])
    for _, path in vendor.PUBLIC_ROUTES:
        plain = client.get(path)
        probed = client.get(path, params={"rel": "../../../../../../../../../etc/hostname", "media_type": "text/plain"})
        assert (probed.status_code, probed.content) == (plain.status_code, plain.content), path
    sign_in(client, "alex", clinic.password)
    upload = client.get("/upload")
    assert client.get("/upload", params={"name": "clinician"}).text == upload.text
