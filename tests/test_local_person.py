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
