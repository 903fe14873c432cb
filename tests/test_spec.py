"""Exercise files: all twelve load, every rule resolves, and bad files fail naming the file and key."""

from __future__ import annotations

import pytest

from formcheck.core import measures, spec
from formcheck.core.geometry import View
from formcheck.core.landmarks import Lm, Side
from formcheck.errors import SpecError

EXPECTED_IDS = {
    "small_knee_bend",
    "squat",
    "lunge",
    "side_lying_leg_raise",
    "standing_side_leg_raise",
    "single_leg_squat",
    "step_down",
    "step_up",
    "glute_bridge",
    "straight_leg_raise",
    "wall_sit",
    "plank",
}


def test_exactly_the_twelve_exercises_ship() -> None:
    assert set(spec.exercise_ids()) == EXPECTED_IDS


@pytest.mark.parametrize("exercise_id", sorted(EXPECTED_IDS))
def test_every_exercise_loads_and_every_rule_resolves(exercise_id: str) -> None:
    s = spec.load_exercise(exercise_id)
    assert s.id == exercise_id and len(s.sha256) == 64
    assert s.views and all(isinstance(v, View) for v in s.views)
    assert (s.rep is None) != (s.hold is None)
    assert s.rules, "every exercise has rules"
    for r in s.rules:
        assert r.source.strip() and r.cue.strip()
        if r.measure != spec.REP_DURATION:
            m = measures.MEASURES[r.measure]
            assert m.unit == r.unit
            # landmarks resolve for both sides
            assert all(isinstance(x, Lm) for x in m.landmarks(Side.LEFT))
    sig = s.rep or s.hold
    assert sig is not None and sig.measure in measures.MEASURES


def test_holds_and_rep_specs_are_where_expected() -> None:
    assert spec.load_exercise("wall_sit").is_hold and spec.load_exercise("plank").is_hold
    assert spec.load_exercise("lunge").side_mode == "alternating"
    assert spec.load_exercise("squat").side_mode == "bilateral"


def test_unknown_exercise_lists_valid_ids() -> None:
    with pytest.raises(SpecError, match="unknown exercise 'jumping_jack'; valid: glute_bridge, lunge"):
        spec.load_exercise("jumping_jack")


def _squat_text() -> str:
    from importlib import resources

    return (resources.files("formcheck.core") / "exercises" / "squat.toml").read_text()


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            'measure = "knee_medial_of_foot_ratio"',
            'measure = "knee_over_toe"',
            r"rules\.\d+\.measure: .*unknown measure 'knee_over_toe'",
        ),
        ('op = "abs_above"', 'op = "beyond"', r"rules\.\d+\.op: "),
        ('views = ["front", "side"]', 'views = ["front", "top"]', r"views\.1: "),
        (
            'highlight = ["HIP", "KNEE", "ANKLE"]',
            'highlight = ["HIP", "KNEE", "Lknee"]',
            r"rules\.\d+\.highlight: .*unknown landmark 'Lknee'",
        ),
        ("enter = 35.0", "enter = 35.0\nspeed = 3", r"rep\.speed: Extra inputs are not permitted"),
        ("enter = 35.0", "enter = 5.0", r"rep: .*hysteresis"),
        ('unit = "ratio"', 'unit = "deg"', r"does not match measure"),
    ],
)
def test_bad_spec_is_an_error_naming_file_and_key(old: str, new: str, message: str) -> None:
    text = _squat_text()
    assert old in text
    with pytest.raises(SpecError, match=r"^drafts/squat\.toml: .*" + message):
        spec.parse_exercise(text.replace(old, new, 1), "drafts/squat.toml")


def test_not_toml_is_an_error(tmp_path) -> None:
    p = tmp_path / "x.toml"
    p.write_text("id = ")
    with pytest.raises(SpecError, match="x.toml: not valid TOML"):
        spec.load_path(p)


def test_per_person_override_wins() -> None:
    r = spec.load_exercise("squat").rule("insufficient_depth")
    assert r.limit_for(None) == 75.0
    assert r.limit_for({"insufficient_depth": 55.0}) == 55.0
