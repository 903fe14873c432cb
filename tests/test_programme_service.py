"""Session service and CLI over a real Store: the day's flow, time budget, clinician audit, bad input."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from formcheck.cli import programme as pcli
from formcheck.errors import FormcheckError, InputError, SpecError
from formcheck.programme import load_programme
from formcheck.programme.facts import Action, Readiness
from formcheck.store import DayStatus, Fault, RepIn, Role, Store
from formcheck.store.programme_service import ProgrammeService

PROG = load_programme()
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _rep(i: int, valid: bool = True) -> RepIn:
    if valid:
        return RepIn(i, i * 3.0, i * 3.0 + 3.0, True, "valid", metrics={"hip_abduction_peak_deg": 31.0})
    return RepIn(
        i,
        i * 3.0,
        i * 3.0 + 3.0,
        False,
        "invalid",
        "leg drifted forward",
        faults=(Fault("hip_flexion_drift", 24.0, 15.0, "deg"),),
    )


def _ready(svc: ProgrammeService, session_id: int, pain: object = 0) -> tuple[Readiness, str]:
    return svc.record_readiness(session_id, massage_done=True, vmo_done=True, skbt_verdict="valid", skbt_pain=pain)


def test_day_flow_reps_stored_as_counted_and_decision_recorded(tmp_path: Path) -> None:
    clock = Clock(T0)
    with Store.open(str(tmp_path / "f.db")) as store:
        svc = ProgrammeService(store, PROG, clock=clock, tz=UTC)
        ann = store.add_person("ann")
        session = svc.start_session(ann)
        assert svc.start_session(ann).id == session.id  # resumed, not duplicated
        with pytest.raises(InputError, match="do the readiness steps"):
            svc.start_set(session.id, "straight_leg_raise", "left")
        assert _ready(svc, session.id, 1) == (Readiness.READY, "Small Knee Bend Test passed (pain 1/10)")
        with pytest.raises(InputError, match="'squat' is not in today's plan"):
            svc.start_set(session.id, "squat")
        with pytest.raises(InputError, match="choose left or right"):
            svc.start_set(session.id, "straight_leg_raise")
        the_set = svc.start_set(session.id, "straight_leg_raise", "left")
        assert (the_set.set_index, the_set.target_reps) == (1, 10)
        progress = None
        for i in range(1, 13):  # two invalid reps: the person needs 12 attempts for 10 valid
            clock.tick(3)
            progress = svc.record_rep(the_set.id, _rep(i, valid=i not in (4, 9)))
            assert store.list_reps(set_id=the_set.id)[-1].idx == i  # committed before returning
        assert progress is not None and progress.valid_count == 10 and progress.set_done
        assert progress.remaining_s == 900 - 36
        invalid = [r for r in store.list_reps(set_id=the_set.id) if not r.valid]
        assert [(r.idx, r.reason, r.faults[0].rule) for r in invalid] == [
            (4, "leg drifted forward", "hip_flexion_drift"),
            (9, "leg drifted forward", "hip_flexion_drift"),
        ]
        svc.end_set(the_set.id)
        clock.tick(60)
        decision = svc.finish_session(session.id, pain_during=1, pain_after="0")
        assert (decision.action, decision.level) == (Action.HOLD, 1)
        assert decision.reason == "0 of 5 qualifying sessions at level 1: keep going"  # 10 of the day's 120 reps
        (event,) = store.list_level_events(ann.id)
        assert (event.action, event.level, event.session_id) == ("hold", 1, session.id)
        (summary,) = store.session_summaries(ann.id)
        assert (summary.valid_reps, summary.total_reps, summary.target_reps) == (10, 12, 10)
        with pytest.raises(InputError, match="is finished: start a new session"):
            svc.record_readiness(session.id, massage_done=True, vmo_done=True, skbt_verdict="valid", skbt_pain=0)


def test_time_budget_is_never_exceeded(tmp_path: Path) -> None:
    clock = Clock(T0)
    with Store.open(str(tmp_path / "f.db")) as store:
        svc = ProgrammeService(store, PROG, clock=clock, tz=UTC)
        doc = store.add_person("doc", role=Role.CLINICIAN)
        ann = store.add_person("ann")
        svc.set_level(ann, doc, 4)  # squat sets take 30 s, plank sets 2 x 20-s holds = 40 s
        session = svc.start_session(ann)
        _ready(svc, session.id)
        first = svc.start_set(session.id, "squat")
        clock.tick(14 * 60 + 25)  # a very slow set: 35 s of the 15 minutes are left
        assert svc.remaining_s(ann) == 35.0
        svc.end_set(first.id)
        with pytest.raises(InputError, match="35 s left, this set needs about 40 s - stop here for today"):
            svc.start_set(session.id, "plank")
        second = svc.start_set(session.id, "squat")  # a 30-s set still fits
        clock.tick(35)
        svc.end_set(second.id)
        assert svc.remaining_s(ann) == 0.0
        with pytest.raises(InputError, match="no more exercise today: today's 15 minutes are done"):
            svc.start_set(session.id, "squat")
        assert len(store.list_sets(session.id)) == 2
        svc.finish_session(session.id, pain_during=0, pain_after=0)
        assert svc.plan(ann).kind == "rest"
        with pytest.raises(InputError, match="no exercises today: today's 15 minutes are done"):
            svc.start_session(ann)


def test_painful_readiness_test_makes_a_rest_day(tmp_path: Path) -> None:
    clock = Clock(T0)
    with Store.open(str(tmp_path / "f.db")) as store:
        svc = ProgrammeService(store, PROG, clock=clock, tz=UTC)
        ann = store.add_person("ann")
        session = svc.start_session(ann)
        state, why = _ready(svc, session.id, 3)
        assert state == Readiness.NOT_READY and why.startswith("the Small Knee Bend Test hurt (3/10")
        assert store.get_session(session.id).status == DayStatus.NOT_READY
        assert svc.plan(ann).kind == "rest"
        with pytest.raises(InputError, match="no exercises today: the Small Knee Bend Test hurt"):
            svc.start_session(ann)
        with pytest.raises(InputError, match="pain must be a whole number"):
            _ready(svc, session.id, "lots")


def test_checkins_step_back_and_flag_the_clinician(tmp_path: Path) -> None:
    clock = Clock(T0)
    with Store.open(str(tmp_path / "f.db")) as store:
        svc = ProgrammeService(store, PROG, clock=clock, tz=UTC)
        doc = store.add_person("doc", role=Role.CLINICIAN)
        ann = store.add_person("ann", clinician_id=doc.id)
        svc.set_level(ann, doc, 3, note="ran before, strong")
        result = svc.checkin(ann, "5")
        assert (result.outcome_action, result.next_level) == (Action.STEP_BACK, 2)
        for _ in range(2):
            clock.tick(24 * 3600)
            result = svc.checkin(ann, 6, "next_day")
        assert result.outcome_action == Action.SEE_PROFESSIONAL
        (alert,) = store.list_alerts(clinician_id=doc.id)
        assert alert.kind == "see_professional" and "pain has not settled" in alert.message
        assert [e.action for e in store.list_level_events(ann.id)] == [
            "step_back",
            "step_back",
            "see_professional",
        ]
        svc.release(ann, doc, note="seen in clinic, fine to continue")
        assert store.list_alerts(clinician_id=doc.id) == []


def test_clinician_controls_are_audited_and_checked(tmp_path: Path) -> None:
    clock = Clock(T0)
    with Store.open(str(tmp_path / "f.db")) as store:
        svc = ProgrammeService(store, PROG, clock=clock, tz=UTC)
        doc = store.add_person("doc", role=Role.CLINICIAN)
        other = store.add_person("other_doc", role=Role.CLINICIAN)
        ann = store.add_person("ann", clinician_id=doc.id)
        svc.set_level(ann, doc, 4)
        clock.tick(60)
        svc.hold(ann, doc, "wait for review")
        svc.set_thresholds(ann, doc, {"knee_valgus": 15, "advance_after_sessions": 3})
        svc.add_note(ann, doc, "watch the left knee")
        actions = store.list_clinician_actions(ann.id)
        assert [(a.kind, a.actor_name) for a in actions] == [
            ("set_level", "doc"),
            ("hold", "doc"),
            ("thresholds", "doc"),
            ("note", "doc"),
        ]
        assert actions[0].created_at == T0 and actions[1].created_at == T0 + timedelta(seconds=60)
        assert actions[2].payload["thresholds"] == {"knee_valgus": 15.0, "advance_after_sessions": 3.0}
        plan = svc.plan(ann)
        assert plan.level == 4 and plan.rule_overrides == (("knee_valgus", 15.0),)
        assert "Your clinician doc is holding your level for now." in plan.messages
        with pytest.raises(InputError, match="'ann' is not under the care of 'other_doc'"):
            svc.hold(ann, other)
        with pytest.raises(InputError, match="'ann' is not a clinician"):
            svc.add_note(ann, ann, "x")
        with pytest.raises(SpecError, match="step_back_pain = 1.0 is outside the allowed range 2..8"):
            svc.set_thresholds(ann, doc, {"step_back_pain": 1})
        with pytest.raises(InputError, match="level must be 1..6, got 9"):
            svc.set_level(ann, doc, 9)
        assert len(store.list_clinician_actions(ann.id)) == 4


# ------------------------------------------------------------------------------------------------ CLI
def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="formcheck")
    pcli.register(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FORMCHECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FORMCHECK_DATABASE_URL", raising=False)
    return tmp_path / "data"


def test_cli_people_today_checkin(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["today"]) == 0  # a fresh install: the local person, the same one `make run` creates (issue 11)
    assert capsys.readouterr().out.startswith("You - ")
    assert _run(["people", "add", "doc", "--role", "clinician"]) == 0
    assert _run(["people", "add", "ann", "--clinician", "doc"]) == 0
    capsys.readouterr()
    assert _run(["today", "--person", "ann"]) == 0
    out = capsys.readouterr().out
    assert "ann - " in out and 'level 1 "Wake up"' in out and "3. Small Knee Bend Test (~0.5 min)" in out
    assert "1. straight leg raise: 3 x 10 reps each side, rest 20 s between sets" in out
    assert "  Readiness today: not done yet today" in out
    assert "Exercises (about 10.7 min; at most 15 min a day, 15.0 min left today)" in out
    assert _run(["checkin", "--pain", "2", "--person", "ann"]) == 0
    assert "Recorded knee pain 2/10 (next_day) for ann." in capsys.readouterr().out
    assert _run(["people", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].split() == ["ann", "person", "doc", "1"] and listing[2].split()[:2] == [
        "doc",
        "clinician",
    ]
    with Store.open(None) as store:
        assert [p.pain for p in store.list_pain(store.get_person("ann").id)] == [2]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["checkin", "--pain", "-1"], "pain must be from 0 to 10, got -1"),
        (["checkin", "--pain", "11"], "pain must be from 0 to 10, got 11"),
        (["checkin", "--pain", "abc"], "pain must be a whole number from 0 to 10, got 'abc'"),
        (["checkin", "--pain", "3", "--when", "tomorrow"], "--when must be one of during, after, next_day"),
        (["checkin", "--pain", "3", "--person", "zed"], "unknown person 'zed' (known: ann, bob)"),
        (["today"], "several people: choose one with --person (ann, bob)"),
        (["history", "--person", "zed"], "unknown person 'zed'"),
        (["people", "add", "ann"], "a person named 'ann' already exists"),
        (
            ["people", "add", "cat", "--role", "wizard"],
            "unknown role 'wizard' (choose from person, clinician, admin)",
        ),
        (["people", "add", "cat", "--clinician", "bob"], "'bob' is not a clinician"),
        (
            ["history", "--person", "ann", "--days", "x"],
            "--days must be a whole number from 1 to 3660, got 'x'",
        ),
        (["people", "seed-demo", "--weeks", "13"], "--weeks must be from 1 to 12, got 13"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(data_dir: Path, argv: list[str], message: str) -> None:
    _run(["people", "add", "ann"])
    _run(["people", "add", "bob"])
    with pytest.raises(FormcheckError) as ei:
        _run(argv)
    assert str(ei.value).startswith(message) and "\n" not in str(ei.value)
    with Store.open(None) as store:
        assert store.count_rows("pain_checkins") == 0
        assert [p.name for p in store.list_people()] == ["ann", "bob"]


def test_cli_seed_demo_and_history_table_with_sparklines(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(["people", "seed-demo", "--weeks", "1"]) == 0
    assert "Seeded 'demo' (clinician 'demo-clinician') with 7 days of history." in capsys.readouterr().out
    assert _run(["history"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Demo Runner: level 2 of 6 (Activate and hold)"
    assert out[2].split() == ["date", "level", "min", "pain", "valid", "reps", "decision"]
    rows = [line for line in out if line[:4] == "2026" or line[:2] == "20"]
    assert len(rows) == 6  # 7 seeded days, one skipped with no report
    assert any("advance: 5 sessions on separate days at level 1" in r for r in rows)
    pain_line = next(line for line in out if line.startswith("pain  0-10"))
    level_line = next(line for line in out if line.startswith("level 1-6"))
    assert set(level_line.split("|")[1]) <= set(pcli.SPARK_CHARS) and "▂" in level_line
    assert len(pain_line.split("|")[1]) == len(level_line.split("|")[1]) == 8  # 7 days + today
    with pytest.raises(InputError, match="a person named 'demo' already exists"):
        _run(["people", "seed-demo", "--weeks", "1"])


def test_sparkline_scales_and_gaps() -> None:
    assert pcli.sparkline([0, 5, 10, None, 2.5], 0, 10) == "▁▅█ ▃"
    assert pcli.sparkline([1, 6], 1, 6) == "▁█"


def test_formcheck_main_prints_one_line_and_exits_2(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from formcheck.cli import main

    assert main(["people", "add", "ann"]) == 0
    capsys.readouterr()
    assert main(["checkin", "--pain", "abc"]) == 2
    err = capsys.readouterr().err
    assert err == "formcheck: error: pain must be a whole number from 0 to 10, got 'abc'\n"
