"""The single-user story: the local person keeps working when others are added; the CLI uses the same person."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from formcheck.store.local_person import LOCAL_SETTING, ensure_local_person, find_local_person
from formcheck.webapp import repo
from formcheck.webapp.app import create_app
from formcheck.webapp.settings import Settings

LOOPBACK_CLIENT = ("127.0.0.1", 50000)


LAUNCH_TOKEN = "local-person-test-token-" + "y" * 20  # single-user mode's per-launch secret (issue 8)


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        job_mode="thread",
        secret_key="test-secret-" + "x" * 40,
        single_user=True,
        token=LAUNCH_TOKEN,
        allowed_hosts=("testserver",),
    )


def test_local_person_survives_adding_others_and_can_be_linked(tmp_path):
    settings = _settings(tmp_path)
    store = repo.open_store(settings)
    me, created = ensure_local_person(store)
    assert created and me.name == "me" and me.settings[LOCAL_SETTING] is True
    store.add_person("ana")
    dr = store.add_person("dr_lee", role="clinician")
    store.assign_clinician(me.id, dr.id)
    assert find_local_person(store).id == me.id
    store.close()
    with TestClient(create_app(settings), client=LOOPBACK_CLIENT) as client:
        client.get(f"/?token={LAUNCH_TOKEN}")  # the launch token's exchange for its cookie
        who = client.get("/api/auth/me").json()
        assert who["id"] == me.id  # still signed in as the local person with three people in the database
        assert client.get("/api/me/settings").status_code == 200


def test_an_old_single_person_install_is_marked_local(tmp_path):
    store = repo.open_store(_settings(tmp_path))
    only = store.add_person("sam")
    person, created = ensure_local_person(store)
    assert not created and person.id == only.id and person.settings[LOCAL_SETTING] is True
    store.add_person("kim")
    assert find_local_person(store).id == only.id
    store.close()


def test_cli_today_on_a_fresh_install_uses_the_local_person(tmp_path):
    env = {**os.environ, "FORMCHECK_DATA_DIR": str(tmp_path)}
    run = [sys.executable, "-m", "formcheck"]
    first = subprocess.run([*run, "today"], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("You - ") and "level 1" in first.stdout
    subprocess.run([*run, "people", "add", "ana"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run(
        [*run, "people", "add", "dr_lee", "--role", "clinician"], env=env, check=True, capture_output=True, timeout=120
    )
    link = subprocess.run(
        [*run, "people", "link", "--clinician", "dr_lee"], env=env, capture_output=True, text=True, timeout=120
    )
    assert link.returncode == 0 and "'me' is now cared for by 'dr_lee'" in link.stdout
    again = subprocess.run([*run, "today"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.startswith("You - ")
    bad = subprocess.run(
        [*run, "people", "link", "--clinician", "ana"], env=env, capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and bad.stderr.strip() == "formcheck: error: 'ana' is not a clinician"
    store = repo.open_store(Settings(data_dir=tmp_path))
    try:
        assert [p.name for p in store.list_people(role="person") if p.settings.get(LOCAL_SETTING)] == ["me"]
    finally:
        store.close()


def test_the_local_person_is_never_called_you_and_gives_a_name(tmp_path):
    """Issue 19 item 4: no "Welcome, You", no "You reported knee pain 6/10" on clinician pages; the person gives a
    name (a pronoun, an empty or a 10,000-character one is refused; markup and formulas are stored as text)."""
    from argon2 import PasswordHasher

    settings = _settings(tmp_path)
    store = repo.open_store(settings)
    me, _ = ensure_local_person(store)
    dr = store.add_person("dr_lee", role="clinician", password_hash=PasswordHasher(time_cost=1).hash("pw pw pw pw"))
    store.assign_clinician(me.id, dr.id)
    store.close()
    with TestClient(create_app(settings), client=LOOPBACK_CLIENT) as person:
        person.get(f"/?token={LAUNCH_TOKEN}")
        who = person.get("/api/auth/me").json()
        assert who["name"].casefold() not in ("you", "me") and who["named"] is False
        csrf = {"X-CSRF-Token": who["csrf_token"]}
        assert person.post("/api/me/checkin", json={"pain": 6}, headers=csrf).status_code == 200
        with TestClient(create_app(settings), client=("127.0.0.2", 50001)) as doc:
            token = doc.get("/api/auth/csrf").json()["csrf_token"]
            r = doc.post(
                "/api/auth/signin", json={"name": "dr_lee", "password": "pw pw pw pw"}, headers={"X-CSRF-Token": token}
            )
            assert r.status_code == 200
            seen = doc.get("/api/clinician/alerts").text + doc.get("/api/clinician/people").text
            assert "You" not in seen and '"me"' not in seen, seen
            for bad in ("you", " Me ", "", "x" * 10_000):
                assert person.put("/api/me/name", json={"name": bad}, headers=csrf).status_code in (400, 422), bad
            for name in ("<b>Ana</b>", "=cmd|'/c calc'!A1", "Ana Souza"):
                r = person.put("/api/me/name", json={"name": name}, headers=csrf)
                assert r.status_code == 200 and r.json() == {"name": name, "named": True}
                assert person.get("/api/auth/me").json()["name"] == name
            assert "Ana Souza" in doc.get("/api/clinician/people").text
            assert "Ana Souza" in doc.get("/api/clinician/alerts").text


def test_make_run_asks_the_name_on_first_run(tmp_path):
    """Issue 19 item 4: `make run`'s first run asks for a name; a pronoun, nothing or end of input keeps none."""
    from formcheck.cli.serve import ask_name

    store = repo.open_store(_settings(tmp_path))
    try:
        me, _ = ensure_local_person(store)
        for typed in ("", "  you ", "Me"):
            assert ask_name(store, me.id, lambda _prompt, t=typed: t) is None
        assert ask_name(store, me.id, lambda _prompt: (_ for _ in ()).throw(EOFError)) is None
        assert repo.get_user(store, me.id).named is False
        assert ask_name(store, me.id, lambda _prompt: " Ana Souza ") == "Ana Souza"
        assert repo.get_user(store, me.id).name == "Ana Souza"
    finally:
        store.close()
