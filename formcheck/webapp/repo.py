"""The web layer's view of the store: the store's account, job and review queries, in the web's wire models.

The data layer itself lives in formcheck.store (accounts.py, job_queue.py, rep_keys.py); what stays here is what
the layer order keeps out of the store: building web wire models (ExercisePublic, ReviewPublic) and the per-person
rule limits of webapp.thresholds that a job is given.
"""

from __future__ import annotations

from formcheck.store import Store
from formcheck.store.accounts import (
    SESSION_GENERATION,
    close_store,
    display_name,
    find_login,
    get_user,
    get_user_and_hash,
    open_store,
    people_of_clinician,
    revoke_sessions,
    session_binding,
    shown_name,
    single_user_person,
)
from formcheck.store.job_queue import (
    JobInputs,
    create_upload,
    get_job,
    get_upload,
    job_attempts,
    job_owner,
    latest_job,
    list_uploads,
    pending_jobs_of,
    queued_jobs_with_owner,
    store_job_result,
    unfinished_jobs,
    update_job,
)
from formcheck.store.job_queue import job_inputs as _job_inputs
from formcheck.store.rep_keys import REP_REVIEW, live_rep_key, parse_rep_key, rep_owner, upload_rep_key
from formcheck.store.rep_keys import person_reviews as _person_reviews
from formcheck.store.rep_keys import upload_reviews as _upload_reviews
from formcheck.webapp.schemas import ExercisePublic, ReviewPublic

__all__ = [
    "REP_REVIEW",
    "SESSION_GENERATION",
    "JobInputs",
    "close_store",
    "create_upload",
    "display_name",
    "exercise_ids",
    "exercises",
    "find_login",
    "get_job",
    "get_upload",
    "get_user",
    "get_user_and_hash",
    "job_attempts",
    "job_inputs",
    "job_owner",
    "latest_job",
    "list_uploads",
    "live_rep_key",
    "open_store",
    "parse_rep_key",
    "pending_jobs_of",
    "people_of_clinician",
    "person_reviews",
    "queued_jobs_with_owner",
    "rep_owner",
    "revoke_sessions",
    "session_binding",
    "shown_name",
    "single_user_person",
    "store_job_result",
    "threshold_overrides",
    "unfinished_jobs",
    "update_job",
    "upload_rep_key",
    "upload_reviews",
]


def exercise_ids() -> tuple[str, ...]:
    from formcheck.core.spec import exercise_ids as ids

    return ids()


def exercises() -> list[ExercisePublic]:
    from formcheck.core.spec import load_all

    return [
        ExercisePublic(id=s.id, name=s.name, sided=s.side_mode != "bilateral")
        for s in sorted(load_all().values(), key=lambda s: s.name)
    ]


def threshold_overrides(store: Store, person_id: int, exercise_id: str) -> dict[str, float]:
    """The per-person limits of this exercise's rules, {rule_id: limit} (what its analysis job is given)."""
    from formcheck.webapp.thresholds import rule_overrides

    return rule_overrides(store, person_id, exercise_id)


def job_inputs(store: Store, job_id: int) -> JobInputs | None:
    return _job_inputs(store, job_id, threshold_overrides)


def person_reviews(store: Store, person_id: int) -> list[ReviewPublic]:
    """Every clinician verdict on this person's reps, newest first, as the API sends them."""
    return _person_reviews(store, person_id)


def upload_reviews(store: Store, upload_id: int) -> list[ReviewPublic]:
    return _upload_reviews(store, upload_id)
