"""The set/rep recorder and the live coach's store adapters: analysis reps → the store's RepIn, per set.

Every store call here is blocking (SQL): the connection runs them with asyncio.to_thread.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from formcheck.core.landmarks import Side
from formcheck.core.results import LiveFeedback, Rep, SetResult
from formcheck.errors import FormcheckError, InputError
from formcheck.programme.readiness import small_knee_bend_verdict
from formcheck.store import Fault, RepIn
from formcheck.store.programme_service import ProgrammeService
from formcheck.webapp.live.protocol import StartSet, Verdict
from formcheck.webapp.live.replies import finite_metrics
from formcheck.webapp.schemas import User

if TYPE_CHECKING:
    from formcheck.store import Store

CLIP_SETTING = "store_flagged_clips"  # people.settings key; default off (issue 5 item 5)
POSE_SOURCE_METRIC = "pose_source"  # stored in the rep's metrics, so the clinician sees which pose path ran
SKB_EXERCISE = "small_knee_bend"  # the readiness test's exercise id (programme readiness step)


def person_stores_clips(store: Store, user: User) -> bool:
    """The person's `store_flagged_clips` setting (default off: clips only with their consent)."""
    try:
        return bool(store.get_person_by_id(user.id).settings.get(CLIP_SETTING, False))
    except FormcheckError:
        return False


def programme_service(app: Any) -> ProgrammeService:
    """The app's ProgrammeService (stateless over the store), made on first use and kept on app.state."""
    svc = getattr(app.state, "programme_service", None)
    if svc is None:
        svc = ProgrammeService(app.state.store)
        app.state.programme_service = svc
    return svc


def person_rule_overrides(svc: ProgrammeService, user: User, exercise_id: str) -> dict[str, float]:
    """The clinician's per-person limits for this exercise's rules ({rule id: limit}; keyed by exercise)."""
    from formcheck.webapp.thresholds import rule_overrides

    return rule_overrides(svc.store, user.id, exercise_id)


def readiness_verdict(exercise_id: str, result: SetResult) -> Verdict | None:
    """The Small Knee Bend Test's verdict of a finished set (None for every other exercise)."""
    if exercise_id != SKB_EXERCISE:
        return None
    return small_knee_bend_verdict([str(r.verdict) for r in result.reps])


def new_reps_of(fb: LiveFeedback | None) -> list[Rep]:
    return [fb.new_rep] if fb is not None and fb.new_rep is not None else []


def rep_in(rep: Rep) -> RepIn:
    """The analysis Rep as the store's RepIn (what the session service records)."""
    reason = rep.why or ("" if rep.valid else "not judged")
    faults = tuple(
        Fault(rule=f.rule, value=float(f.value), threshold=float(f.threshold), unit=f.unit)
        for f in rep.faults
        if math.isfinite(float(f.value)) and math.isfinite(float(f.threshold))
    )
    metrics = finite_metrics(
        {f"peak_{k}": v for k, v in rep.peak.items()},
        {f"worst_{k}": v for k, v in rep.worst.items()},
        {"duration_s": rep.end_s - rep.start_s, "bottom_s": rep.bottom_s},
    )
    return RepIn(
        idx=int(rep.index),
        start_s=float(rep.start_s),
        end_s=float(rep.end_s),
        valid=bool(rep.valid),
        verdict=str(rep.verdict),
        reason=reason,
        side=rep.side,
        metrics=metrics,
        faults=faults,
    )


def holds_due(hold_good_s: float, hold_s: float, target: int | None) -> int:
    """How many holds of `hold_s` seconds the time held in good form amounts to (at most the target)."""
    done = int(math.floor(max(0.0, hold_good_s) / hold_s + 1e-9))
    return min(done, target) if target else done


def hold_rep_in(index: int, t_s: float, hold_s: float, side: str | None) -> RepIn:
    """One completed hold as the store's RepIn: valid, since hold time only accrues while the form is good."""
    return RepIn(
        idx=index,
        start_s=max(0.0, t_s - hold_s),
        end_s=t_s,
        valid=True,
        verdict="valid",
        reason=f"held {hold_s:g} s in good form",
        side=side if side in ("left", "right") else None,
        metrics={"hold_s": float(hold_s)},
    )


def hold_json(rep: RepIn) -> dict[str, Any]:
    """A completed hold as a frame reply's new_reps item (before it is stored)."""
    return {
        "index": rep.idx,
        "valid": True,
        "verdict": rep.verdict,
        "why": rep.reason,
        "side": rep.side,
        "start_s": rep.start_s,
        "end_s": rep.end_s,
        "faults": [],
        "stored": False,
        "hold": True,
    }


class SetRecorder:
    """Stores each rep of one set the moment it is counted, through the programme's session service."""

    def __init__(
        self, svc: ProgrammeService, set_id: int, target_reps: int, target_hold_s: float | None = None
    ) -> None:
        self.svc, self.set_id, self.target_reps, self.target_hold_s = svc, set_id, target_reps, target_hold_s
        self.closed = False

    @classmethod
    def open(cls, svc: ProgrammeService, user: User, req: StartSet) -> SetRecorder:
        if req.session_id is None:
            raise InputError("a stored set needs a session id")
        session = svc.store.get_session(req.session_id)
        if session.person_id != user.id:
            raise InputError(f"no session with id {req.session_id}")
        side = req.side if req.side in (Side.LEFT.value, Side.RIGHT.value) else None
        for left_open in svc.store.list_sets(session.id):
            if left_open.ended_at is None:  # a tab closed mid-set (its reps are stored): that set is over
                svc.end_set(left_open.id)
        row = svc.start_set(req.session_id, req.exercise, side)
        return cls(svc, row.id, row.target_reps, row.target_hold_s)

    def record(self, rep: Rep, pose_source: str | None = None) -> int:
        rin = rep_in(rep)
        if pose_source is not None:  # which path produced the landmarks: shown to the clinician with the rep
            # the store keeps metrics as JSON, and pose_source is its one text value (the clinician's view shows it)
            metrics: dict[str, Any] = {**rin.metrics, POSE_SOURCE_METRIC: pose_source}
            rin = dataclasses.replace(rin, metrics=metrics)
        return self.record_in(rin)

    def record_in(self, rep: RepIn) -> int:
        return int(self.svc.record_rep(self.set_id, rep).rep.id)

    def attach_clip(self, rep_id: int, path: Path) -> None:
        self.svc.store.add_rep_clip(int(rep_id), str(path))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.svc.end_set(self.set_id)
