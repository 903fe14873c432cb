"""Clinician verdicts on reps from both sources, keyed so the web layer can name any rep.

Reps have two homes: live-set reps are rows of the `reps` table (key "r<rep id>"); reps of an uploaded video live
in its job's stored report (key "u<upload id>-<rep index>"). Reviews of live reps go to `rep_reviews`; reviews of
upload reps are clinician actions of kind "note" whose payload names the rep (`rep_review`), because
`rep_reviews.rep_id` must reference a `reps` row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from formcheck.errors import InputError
from formcheck.store.accounts import display_name
from formcheck.store.job_queue import get_upload
from formcheck.store.records import ClinicianActionRow
from formcheck.store.store import Store

REP_REVIEW = "rep_review"  # payload marker of an upload-rep review stored as a clinician note
_LIVE_KEY = re.compile(r"^r(\d+)$")
_UPLOAD_KEY = re.compile(r"^u(\d+)-(\d+)$")


@dataclass(frozen=True)
class ReviewEntry:
    """One clinician verdict on one rep, with the rep named for people (the web sends it as is: webapp.schemas.ReviewPublic)."""

    id: int
    rep_key: str
    rep_label: str
    agree: bool
    note: str
    clinician_name: str
    created_at: datetime | None = None


def live_rep_key(rep_id: int) -> str:
    return f"r{rep_id}"


def upload_rep_key(upload_id: int, index: int) -> str:
    return f"u{upload_id}-{index}"


def parse_rep_key(key: str) -> tuple[str, int, int]:
    """("live", rep_id, 0) or ("upload", upload_id, rep_index); InputError for anything else."""
    if m := _LIVE_KEY.match(key):
        return "live", int(m.group(1)), 0
    if m := _UPLOAD_KEY.match(key):
        return "upload", int(m.group(1)), int(m.group(2))
    raise InputError(f"not a rep id: {key!r}")


def rep_owner(store: Store, key: str) -> int | None:
    """The person a rep key belongs to (None when it does not exist or is malformed)."""
    try:
        source, ident, _ = parse_rep_key(key)
        if source == "live":
            rep = store.get_rep(ident)
            return store.get_session(store.get_set(rep.set_id).session_id).person_id
        up = get_upload(store, ident)
        return up.owner_id if up else None
    except InputError:
        return None


class _Names:
    """Display names of clinicians, each read once per listing."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._known: dict[int, str] = {}

    def __call__(self, person_id: int) -> str:
        if person_id not in self._known:
            self._known[person_id] = display_name(self._store, person_id)
        return self._known[person_id]


def _upload_rep_reviews(actions: list[ClinicianActionRow], name: _Names) -> list[ReviewEntry]:
    out = []
    for a in actions:
        rv = a.payload.get(REP_REVIEW)
        if a.kind == "note" and isinstance(rv, dict):
            out.append(
                ReviewEntry(
                    id=a.id,
                    rep_key=upload_rep_key(int(rv["upload_id"]), int(rv["rep_index"])),
                    rep_label=f"{rv.get('filename', 'uploaded video')}, rep {rv['rep_index']}",
                    agree=bool(rv["agree"]),
                    note=str(a.payload.get("note", "")),
                    clinician_name=name(a.actor_id),
                    created_at=a.created_at,
                )
            )
    return out


def _live_rep_reviews(store: Store, person_id: int, name: _Names) -> list[ReviewEntry]:
    out = []
    for day in store.list_sessions(person_id):
        sets = {s.id: s for s in store.list_sets(day.id)}
        for rep in store.list_reps(session_id=day.id):
            for r in store.list_rep_reviews(rep.id):
                ex = sets[rep.set_id].exercise_id.replace("_", " ")
                out.append(
                    ReviewEntry(
                        id=r.id,
                        rep_key=live_rep_key(rep.id),
                        rep_label=f"{ex} on {day.day.isoformat()}, rep {rep.idx}",
                        agree=r.agree,
                        note=r.note,
                        clinician_name=name(r.clinician_id),
                        created_at=r.at,
                    )
                )
    return out


def person_reviews(store: Store, person_id: int) -> list[ReviewEntry]:
    """Every clinician verdict on this person's reps: live reps (rep_reviews) and upload reps (notes), newest first."""
    name = _Names(store)
    out = _upload_rep_reviews(store.list_clinician_actions(person_id), name)
    out += _live_rep_reviews(store, person_id, name)
    out.sort(key=lambda r: r.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return out


def upload_reviews(store: Store, upload_id: int) -> list[ReviewEntry]:
    up = get_upload(store, upload_id)
    if up is None:
        return []
    return [r for r in person_reviews(store, up.owner_id) if r.rep_key.startswith(f"u{upload_id}-")]
