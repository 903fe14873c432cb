"""Clinician pages' API: people, queue, verdicts visible to the person, programme controls, CSV/HTML export."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from formcheck.webapp import repo
from formcheck.webapp.app import create_app
from formcheck.webapp.demo import DEMO_PASSWORD, Clinic, seed_clinic
from formcheck.webapp.settings import Settings

FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(DEMO_PASSWORD)


class Env:
    def __init__(self, client: TestClient, clinic: Clinic, settings: Settings) -> None:
        self.client, self.clinic, self.settings = client, clinic, settings
        self.token = ""

    def sign_in(self, name: str) -> None:
        if self.token:
            self.client.post("/api/auth/signout", headers={"X-CSRF-Token": self.token})
        token = self.client.get("/api/auth/csrf").json()["csrf_token"]
        r = self.client.post(
            "/api/auth/signin", json={"name": name, "password": DEMO_PASSWORD}, headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 200, r.text
        self.token = r.json()["csrf_token"]

    def post(self, url: str, body: dict):
        return self.client.post(url, json=body, headers={"X-CSRF-Token": self.token})


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    settings = Settings(
        data_dir=tmp_path,
        job_mode="thread",
        secret_key="c" * 48,
        allowed_hosts=("testserver",),
        analyzer="test_web_upload:fake_analyse",
    )
    store = repo.open_store(settings)
    clinic = seed_clinic(store, password_hash=FAST_HASH)
    store.close()
    with TestClient(create_app(settings)) as client:
        e = Env(client, clinic, settings)
        e.sign_in("dr_lee")
        yield e


def test_people_are_only_the_clinicians_own(env: Env) -> None:
    people = env.client.get("/api/clinician/people").json()
    assert sorted(p["name"] for p in people) == ["Alex", "Kim"]
    alex = next(p for p in people if p["name"] == "Alex")
    assert (alex["level"], alex["held"], alex["flagged_open"]) == (1, False, 6)  # 2 invalid reps x 3 sessions


def test_timeline_has_sessions_pain_and_ratio(env: Env) -> None:
    d = env.client.get(f"/api/clinician/people/{env.clinic.alex_id}").json()
    assert [s["level"] for s in d["sessions"]] == [1, 1, 2]
    assert [(s["valid_reps"], s["total_reps"]) for s in d["sessions"]] == [(4, 6)] * 3
    assert [(s["pain_during"], s["pain_after"]) for s in d["sessions"]] == [(2, 1), (1, 1), (3, 2)]
    assert len(d["pain"]) == 6
    assert any(r["exercise_id"] == "squat" for r in d["rules"])


def test_queue_lists_flagged_reps_of_own_people_only(env: Env) -> None:
    items = env.client.get("/api/clinician/queue").json()
    assert len(items) == 6
    assert {i["person_name"] for i in items} == {"Alex"}
    item = next(i for i in items if i["key"] == repo.live_rep_key(env.clinic.alex_flagged_rep_id))
    assert item["faults"] == [{"rule": "knee_valgus", "value": 14.2, "threshold": 10.0, "unit": "deg"}]
    assert item["metrics"]["knee_fppa_deg"] == 14.2
    assert item["source"] == "live" and item["clip_url"] is None
    strip = env.client.get(item["strip_url"])  # no clip kept for live reps by default: a clear placeholder
    assert strip.headers["content-type"].startswith("image/svg+xml") and b"No clip kept" in strip.content
    assert env.client.get(f"/api/clinician/queue?person={env.clinic.sam_id}").status_code == 404


def test_verdict_is_stored_and_shown_to_the_person(env: Env) -> None:
    key = repo.live_rep_key(env.clinic.alex_flagged_rep_id)
    r = env.post(
        f"/api/clinician/reps/{key}/review", {"agree": False, "note": "Fine for week 1: knee stayed over the foot."}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["agree"], r.json()["clinician_name"]) == (False, "Dr Lee")
    assert len(env.client.get("/api/clinician/queue").json()) == 5  # reviewed: out of the open queue
    assert len(env.client.get("/api/clinician/queue?status=all").json()) == 6
    assert env.client.get(f"/api/clinician/reps/{key}").json()["review"]["note"].startswith("Fine for week 1")
    env.sign_in("alex")
    notes = env.client.get("/api/me/reviews").json()
    assert [(n["rep_key"], n["agree"], n["note"]) for n in notes] == [
        (key, False, "Fine for week 1: knee stayed over the foot.")
    ]
    assert "squat" in notes[0]["rep_label"]
    env.sign_in("kim")
    assert env.client.get("/api/me/reviews").json() == []


def test_other_clinician_cannot_review(env: Env) -> None:
    env.sign_in("dr_park")
    key = repo.live_rep_key(env.clinic.alex_flagged_rep_id)
    assert env.post(f"/api/clinician/reps/{key}/review", {"agree": True, "note": ""}).status_code == 404
    assert env.post("/api/clinician/reps/r999999/review", {"agree": True, "note": ""}).status_code == 404
    assert env.post("/api/clinician/reps/not-a-key/review", {"agree": True, "note": ""}).status_code == 404


def test_upload_reps_are_in_the_queue_with_a_frame_strip_and_reviewable(env: Env, tmp_path: Path) -> None:
    from test_web_upload import write_video

    env.sign_in("alex")
    video = write_video(tmp_path / "v.mp4", n_frames=20, wh=(96, 64)).read_bytes()
    r = env.client.post(
        "/api/uploads",
        params={"exercise": "squat", "filename": "tuesday.mp4"},
        content=video,
        headers={"X-CSRF-Token": env.token, "Content-Type": "video/mp4"},
    )
    assert r.status_code == 201, r.text
    upload_id = r.json()["id"]
    deadline = time.monotonic() + 30
    while env.client.get(f"/api/uploads/{upload_id}").json()["job"]["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    env.sign_in("dr_lee")
    key = repo.upload_rep_key(upload_id, 2)
    item = env.client.get(f"/api/clinician/reps/{key}").json()
    assert (item["source"], item["index"], item["start_s"], item["end_s"]) == ("upload", 2, 0.2, 0.4)
    assert item["faults"][0]["value"] == 15.5 and item["clip_url"] == f"/api/uploads/{upload_id}/video"
    strip = env.client.get(item["strip_url"])
    assert strip.headers["content-type"] == "image/jpeg" and strip.content[:2] == b"\xff\xd8"
    assert env.client.get(f"/api/uploads/{upload_id}/video").status_code == 200  # the clinician may watch it
    r = env.post(f"/api/clinician/reps/{key}/review", {"agree": True, "note": "Yes: push the knee out."})
    assert r.status_code == 200, r.text
    env.sign_in("alex")
    result = env.client.get(f"/api/uploads/{upload_id}/result").json()
    assert [(n["rep_key"], n["agree"], n["note"]) for n in result["reviews"]] == [
        (key, True, "Yes: push the knee out.")
    ]
    assert result["reviews"][0]["rep_label"] == "tuesday.mp4, rep 2"


def test_level_hold_thresholds_and_notes_are_recorded(env: Env) -> None:
    pid = env.clinic.alex_id
    assert env.post(f"/api/clinician/people/{pid}/level", {"level": 3, "note": "strong start"}).json() == {"level": 3}
    assert env.post(f"/api/clinician/people/{pid}/hold", {"hold": True}).json() == {"held": True}
    rule = next(
        r for r in env.client.get(f"/api/clinician/people/{pid}").json()["rules"] if r["exercise_id"] == "squat"
    )
    r = env.post(
        f"/api/clinician/people/{pid}/thresholds",
        {"exercise_id": "squat", "rule_id": rule["rule_id"], "threshold": rule["limit"] + 2},
    )
    assert r.status_code == 200, r.text
    assert env.post(f"/api/clinician/people/{pid}/notes", {"note": "Check stairs next week"}).status_code == 200
    d = env.client.get(f"/api/clinician/people/{pid}").json()
    assert (d["level"], d["held"]) == (3, True)
    assert (
        next(x for x in d["rules"] if (x["exercise_id"], x["rule_id"]) == ("squat", rule["rule_id"]))["override"]
        == rule["limit"] + 2
    )
    assert [a["kind"] for a in d["actions"]] == ["note", "thresholds", "hold", "set_level"]
    assert all(a["actor_name"] == "Dr Lee" for a in d["actions"])
    assert env.post(f"/api/clinician/people/{pid}/hold", {"hold": False}).json() == {"held": False}


@pytest.mark.parametrize(
    ("url", "body", "status"),
    [
        ("level", {"level": 0}, 422),
        ("level", {"level": 99}, 422),
        ("level", {"level": 20}, 400),  # within the schema, above the programme's top level
        ("thresholds", {"exercise_id": "squat", "rule_id": "no_such_rule", "threshold": 5}, 400),
        ("thresholds", {"exercise_id": "moonwalk", "rule_id": "x", "threshold": 5}, 400),
        ("notes", {"note": ""}, 422),
    ],
)
def test_bad_control_values_are_clean_4xx(env: Env, url: str, body: dict, status: int) -> None:
    r = env.post(f"/api/clinician/people/{env.clinic.alex_id}/{url}", body)
    assert r.status_code == status, r.text
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]


def test_csv_export(env: Env) -> None:
    r = env.client.get(f"/api/clinician/people/{env.clinic.alex_id}/report.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="formcheck_alex.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [
        (
            x["source"],
            x["level"],
            x["valid_reps"],
            x["total_reps"],
            x["valid_rep_ratio"],
            x["pain_during"],
            x["pain_after"],
        )
        for x in rows
    ] == [
        ("live session", "1", "4", "6", "0.67", "2", "1"),
        ("live session", "1", "4", "6", "0.67", "1", "1"),
        ("live session", "2", "4", "6", "0.67", "3", "2"),
    ]
    assert rows[0]["exercises"] == "squat" and rows[0]["minutes"] == "3.0"


def test_printable_report(env: Env) -> None:
    r = env.client.get(f"/clinician/people/{env.clinic.alex_id}/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Progress report: Alex" in r.text and r.text.count("<tr>") == 4 and "<svg" in r.text
    assert "window.print()" in r.text


def test_pages_are_served(env: Env) -> None:
    for url in (
        "/clinician",
        "/clinician/queue",
        f"/clinician/people/{env.clinic.alex_id}",
        f"/clinician/reps/{repo.live_rep_key(env.clinic.alex_flagged_rep_id)}",
    ):
        r = env.client.get(url)
        assert r.status_code == 200 and "<title>" in r.text, url
    assert env.client.get("/", follow_redirects=False).headers["location"] == "/clinician"


def test_live_rep_with_a_stored_clip_has_a_strip_and_the_clip(env: Env) -> None:
    from test_web_upload import write_video

    rel = "clips/rep.mp4"
    (env.settings.data_dir / "clips").mkdir(parents=True, exist_ok=True)
    write_video(env.settings.data_dir / rel, n_frames=30, wh=(96, 64))
    store = repo.open_store(env.settings)
    store.add_rep_clip(env.clinic.alex_flagged_rep_id, rel)
    store.close()
    key = repo.live_rep_key(env.clinic.alex_flagged_rep_id)
    item = env.client.get(f"/api/clinician/reps/{key}").json()
    assert item["clip_url"] == f"/api/clinician/reps/{key}/clip"
    strip = env.client.get(item["strip_url"])
    assert strip.headers["content-type"] == "image/jpeg" and strip.content[:2] == b"\xff\xd8"
    clip = env.client.get(item["clip_url"])
    assert clip.status_code == 200 and clip.content == (env.settings.data_dir / rel).read_bytes()


# ------------------------------------------------------------------------------------------------ triage (issue 11)


def test_threshold_out_of_range_or_in_the_wrong_unit_is_refused_with_the_range(env: Env) -> None:
    pid = env.clinic.alex_id
    rules = env.client.get(f"/api/clinician/people/{pid}").json()["rules"]
    valgus = next(r for r in rules if r["exercise_id"] == "squat" and r["rule_id"] == "knee_valgus")
    assert (valgus["unit"], valgus["limit"], valgus["min"], valgus["max"]) == ("ratio", 0.1, 0.05, 0.2)
    url = f"/api/clinician/people/{pid}/thresholds"
    ok = env.post(url, {"exercise_id": "squat", "rule_id": "knee_valgus", "threshold": 0.15, "unit": "ratio"})
    assert ok.status_code == 200 and ok.json()["threshold"] == pytest.approx(0.15)  # not a step of 0.5
    for bad in (-5, 0.04, 0.21, 750):
        r = env.post(url, {"exercise_id": "squat", "rule_id": "knee_valgus", "threshold": bad})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["detail"] == (
            f"{bad:g} is out of range: give a limit from 0.05 to 0.2 ratio for knee_valgus (library limit 0.1)"
        )
    r = env.post(url, {"exercise_id": "squat", "rule_id": "knee_valgus", "threshold": 12, "unit": "deg"})
    assert r.status_code == 400 and r.json()["detail"].startswith("knee_valgus is measured in ratio, not degrees")
    pike = env.post(url, {"exercise_id": "plank", "rule_id": "plank_pike", "threshold": -25, "unit": "deg"})
    assert pike.status_code == 200, pike.text  # a negative library limit (-20 deg) keeps a negative range
    d = env.client.get(f"/api/clinician/people/{pid}").json()
    assert next(x for x in d["rules"] if x["rule_id"] == "knee_valgus" and x["exercise_id"] == "squat")[
        "override"
    ] == pytest.approx(0.15)  # the refused values changed nothing


def test_queue_filters_and_next_previous_rep(env: Env) -> None:
    everything = env.client.get("/api/clinician/queue?status=all").json()
    assert len(everything) >= 3
    alex = env.clinic.alex_id
    mine = env.client.get(f"/api/clinician/queue?status=all&person={alex}").json()
    assert mine and all(i["person_id"] == alex for i in mine)
    ex = mine[0]["exercise_id"]
    by_ex = env.client.get(f"/api/clinician/queue?status=all&exercise={ex}").json()
    assert by_ex and all(i["exercise_id"] == ex for i in by_ex)
    rule = mine[0]["faults"][0]["rule"]
    by_rule = env.client.get(f"/api/clinician/queue?status=all&rule={rule}").json()
    assert by_rule and all(rule in {f["rule"] for f in i["faults"]} for i in by_rule)
    days = sorted({i["at"][:10] for i in everything})
    one_day = env.client.get(f"/api/clinician/queue?status=all&date_from={days[0]}&date_to={days[0]}").json()
    assert one_day and {i["at"][:10] for i in one_day} == {days[0]}
    assert env.client.get("/api/clinician/queue?status=all&date_from=someday").status_code == 422
    keys = [i["key"] for i in mine]
    n = env.client.get(f"/api/clinician/reps/{keys[1]}/neighbours?status=all&person={alex}").json()
    assert (n["position"], n["total"], n["prev_key"], n["next_key"]) == (
        2,
        len(keys),
        keys[0],
        keys[2] if len(keys) > 2 else None,
    )
    first = env.client.get(f"/api/clinician/reps/{keys[0]}/neighbours?status=all&person={alex}").json()
    assert first["prev_key"] is None and first["position"] == 1


def test_pain_alert_on_the_clinician_home_until_the_clinician_acts(env: Env) -> None:
    from datetime import date

    assert env.client.get("/api/clinician/alerts").json() == []  # the demo clinic's pain stays below 4/10
    store = env.client.app.state.store
    store.add_pain(env.clinic.alex_id, date.today(), "after", 5)
    store.add_pain(env.clinic.sam_id, date.today(), "after", 7)  # not dr_lee's person
    alerts = env.client.get("/api/clinician/alerts").json()
    assert [(a["person_id"], a["kind"], a["pain"]) for a in alerts] == [(env.clinic.alex_id, "pain", 5)]
    assert alerts[0]["message"] == "Alex reported knee pain 5/10 after a session"
    assert env.post(f"/api/clinician/people/{env.clinic.alex_id}/notes", {"note": "Called Alex"}).status_code == 200
    assert env.client.get("/api/clinician/alerts").json() == []
