"""Programme data file: loads, levels easy -> hard, every day within 15 minutes, bad files fail in one line."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from formcheck.errors import SpecError
from formcheck.programme.model import (
    PARAM_RANGES,
    check_override,
    library_exercise_ids,
    load_programme,
    parse_programme,
)

TEXT = resources.files("formcheck.programme").joinpath("data", "runners_knee_v1.toml").read_text(encoding="utf-8")
# Hand-computed (sets*sides*reps*3 s + (sets*sides-1)*rest + 20 s setup per exercise, + 30 s readiness test).
EXPECTED_MINUTES = {1: 640 / 60, 2: 794 / 60, 3: 878 / 60, 4: 750 / 60, 5: 864 / 60, 6: 834 / 60}


def test_default_programme_levels_and_minutes() -> None:
    prog = load_programme()
    assert 5 <= prog.max_level <= 8
    assert [lv.name for lv in prog.levels] == [
        "Wake up",
        "Activate and hold",
        "Standing control",
        "Step and lunge",
        "Single-leg control",
        "Strength and balance",
    ]
    for number, minutes in EXPECTED_MINUTES.items():
        assert prog.day_minutes(number) == pytest.approx(minutes)
        assert prog.day_minutes(number) <= 15.0
    level1 = prog.level(1).exercises[0]
    assert (level1.id, level1.sets, level1.reps, level1.sides) == ("straight_leg_raise", 3, 10, 2)
    assert prog.exercise_s(level1) == 3 * 2 * 10 * 3.0 + 5 * 20 + 20
    # easy -> hard: level 1 lies down (isolated), the single-leg moves only come in the last levels
    first = {e.id for e in prog.level(1).exercises}
    assert first <= {"straight_leg_raise", "side_lying_leg_raise", "glute_bridge"}
    assert {"single_leg_squat", "step_down"} & {
        e.id for e in prog.level(1).exercises + prog.level(2).exercises
    } == set()
    assert "single_leg_squat" in {e.id for e in prog.level(prog.max_level).exercises}


def test_every_parameter_has_a_value_in_range_and_a_source() -> None:
    prog = load_programme()
    for name in PARAM_RANGES:
        param = getattr(prog.rules, name)
        assert len(param.source) > 20, name
    rv = prog.rule_values()
    assert (rv.green_pain_max, rv.step_back_pain, rv.baseline_rise_pain, rv.advance_after_sessions) == (
        2,
        4,
        2,
        5,
    )
    assert (rv.step_back_days, rv.no_advance_window_days, rv.see_professional_after_regressions) == (2, 2, 3)
    assert prog.rule_values({"advance_after_sessions": 2, "knee_valgus": 15}).advance_after_sessions == 2
    with pytest.raises(SpecError, match="step_back_pain = 9.0 is outside the allowed range 2..8"):
        check_override("step_back_pain", 9.0)
    check_override("knee_valgus", 99.0)  # analysis rule limits are the analysis' business


def test_exercise_ids_come_from_the_exercise_library() -> None:
    from formcheck.core.spec import exercise_ids

    assert library_exercise_ids() == frozenset(exercise_ids())
    assert {"squat", "straight_leg_raise", "small_knee_bend"} <= library_exercise_ids()
    parse_programme(TEXT)  # every exercise of the shipped programme is in the library
    with pytest.raises(SpecError, match="level 1 uses unknown exercise 'straight_leg_raise' \\(known: squat\\)"):
        parse_programme(TEXT, exercise_ids=frozenset({"squat"}))


def _broken(old: str, new: str) -> str:
    assert old in TEXT, old
    return TEXT.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _broken(
                '{ id = "squat", sets = 3, reps = 10, rest_s = 40',
                '{ id = "pistol_squat", sets = 3, reps = 10, rest_s = 40',
            ),
            "programme bad.toml: level 3 uses unknown exercise 'pistol_squat' (known: glute_bridge,",
        ),
        (
            _broken(
                '{ id = "glute_bridge", sets = 3, reps = 12, rest_s = 30 }',
                '{ id = "glute_bridge", sets = 6, reps = 30, rest_s = 60 }',
            ),
            "programme bad.toml: level 3 day takes 25.8 min, over the 15-minute daily limit",
        ),
        (
            _broken("day_budget_min = 15.0", "day_budget_min = 20.0"),
            "programme bad.toml: day_budget_min: Input should be less than or equal to 15",
        ),
        (
            _broken("version = 1", 'version = 1\ncolour = "red"'),
            "programme bad.toml: colour: Extra inputs are not permitted",
        ),
        (
            _broken("green_pain_max = { value = 2,", "green_pain_max = { value = 7,"),
            "programme bad.toml: rules: rules.green_pain_max = 7.0 is outside 0..4",
        ),
        (
            _broken("number = 2\n", "number = 7\n"),
            "programme bad.toml: levels must be numbered 1..6 in order, got [1, 7, 3, 4, 5, 6]",
        ),
        ("id = [", "programme bad.toml: not valid TOML:"),
    ],
    ids=[
        "unknown-exercise",
        "day-over-15-min",
        "budget-over-15",
        "extra-key",
        "param-out-of-range",
        "level-order",
        "toml",
    ],
)
def test_bad_programme_files_are_one_line_spec_errors(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(SpecError) as ei:
        load_programme(bad, exercise_ids=library_exercise_ids())
    assert str(ei.value).replace(str(tmp_path) + "/", "").startswith(message)
    assert "\n" not in str(ei.value)


def test_too_few_levels_and_missing_file(tmp_path: Path) -> None:
    raw = tomllib.loads(TEXT)
    assert len(raw["levels"]) == 6
    cut = TEXT[: TEXT.index("[[levels]]\nnumber = 5")]
    with pytest.raises(SpecError, match="programme cut.toml: levels: Tuple should have at least 5 items"):
        parse_programme(cut, origin="cut.toml", exercise_ids=library_exercise_ids())
    with pytest.raises(SpecError, match="cannot read"):
        load_programme(tmp_path / "nope.toml")
