"""A small demo clinic (two clinicians, three people, a few days of sessions with flagged reps).

Used by the web tests and the browser test, and handy to try the clinician pages on a fresh data dir.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from formcheck.store import Fault, RepIn, Store
from formcheck.webapp.auth import hash_password

DEMO_PASSWORD = "formcheck-demo"  # every demo account; never use on a real deployment


@dataclass(frozen=True)
class Clinic:
    clinician_id: int  # "dr_lee": cares for alex and kim
    other_clinician_id: int  # "dr_park": cares for sam
    alex_id: int
    kim_id: int
    sam_id: int
    alex_flagged_rep_id: int
    sam_flagged_rep_id: int
    password: str = DEMO_PASSWORD


def _session(
    store: Store, person_id: int, day: date, level: int, reps: list[RepIn], pain: tuple[int, int]
) -> list[int]:
    at = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)
    s = store.start_session(person_id, day, level, at=at)
    st = store.start_set(s.id, "squat", side=None, set_index=1, target_reps=len(reps), at=at)
    ids = [store.add_rep(st.id, r, at=at + timedelta(seconds=5 * r.idx)).id for r in reps]
    store.end_set(st.id, at=at + timedelta(minutes=3))
    store.finish_session_with_pain(s.id, pain_during=pain[0], pain_after=pain[1], day=day, at=at + timedelta(minutes=4))
    return ids


def _rep(idx: int, valid: bool, start_s: float) -> RepIn:
    faults = () if valid else (Fault(rule="knee_valgus", value=14.2, threshold=10.0, unit="deg"),)
    return RepIn(
        idx=idx,
        start_s=start_s,
        end_s=start_s + 2.4,
        valid=valid,
        verdict="valid" if valid else "invalid",
        reason="" if valid else "knee caved in (14.2° > 10°)",
        side="left",
        metrics={"knee_flexion_deg": 92.0 if valid else 88.5, "knee_fppa_deg": 6.0 if valid else 14.2},
        faults=faults,
    )


def seed_clinic(
    store: Store, *, today: date | None = None, password: str = DEMO_PASSWORD, password_hash: str | None = None
) -> Clinic:
    """Seed the demo clinic; `password_hash` (of `password`) lets tests pass a cheap argon2 hash."""
    today = today or datetime.now(UTC).date()
    pw = password_hash or hash_password(password)
    lee = store.add_person("dr_lee", role="clinician", display_name="Dr Lee", password_hash=pw)
    park = store.add_person("dr_park", role="clinician", display_name="Dr Park", password_hash=pw)
    alex = store.add_person("alex", display_name="Alex", clinician_id=lee.id, password_hash=pw)
    kim = store.add_person("kim", display_name="Kim", clinician_id=lee.id, password_hash=pw)
    sam = store.add_person("sam", display_name="Sam", clinician_id=park.id, password_hash=pw)
    flagged = 0
    for k, (level, pain) in enumerate([(1, (2, 1)), (1, (1, 1)), (2, (3, 2))]):
        day = today - timedelta(days=3 - k)
        reps = [_rep(i + 1, valid=(i % 3 != 1), start_s=3.0 * i) for i in range(6)]
        ids = _session(store, alex.id, day, level, reps, pain)
        flagged = ids[1]
    sam_ids = _session(store, sam.id, today - timedelta(days=1), 1, [_rep(1, True, 0.0), _rep(2, False, 3.0)], (1, 1))
    return Clinic(
        clinician_id=lee.id,
        other_clinician_id=park.id,
        alex_id=alex.id,
        kim_id=kim.id,
        sam_id=sam.id,
        alex_flagged_rep_id=flagged,
        sam_flagged_rep_id=sam_ids[1],
        password=password,
    )
