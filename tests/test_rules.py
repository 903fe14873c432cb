"""Rules on synthetic landmark windows: operators, debounce, baseline, overrides and honest "unknown"."""

from __future__ import annotations

import numpy as np
import pytest
from synthpose import Pose, to_seq

from formcheck.core.geometry import View
from formcheck.core.landmarks import Lm, Side
from formcheck.core.measures import MEASURES, PoseArrays, jump_ratio
from formcheck.core.rules import MeasureTable, Status, Window, judge, missing_reason, view_reason
from formcheck.core.spec import RuleSpec, load_exercise


def table_of(poses: list[Pose], view: str = "front", **kw) -> MeasureTable:
    seq = to_seq(poses, view, **kw)
    return MeasureTable(PoseArrays.from_seq(seq), seq.t_s)


def window(table: MeasureTable, view: View, side: Side | None = None) -> Window:
    n = len(table) - 1
    return Window(0, n, n // 2, side, view, float(table.t_s[n]))


def rule(**kw) -> RuleSpec:
    base = {
        "id": "r",
        "name": "r",
        "measure": "trunk_lateral_lean_deg",
        "unit": "deg",
        "op": "abs_above",
        "limit": 10.0,
        "at": "rep",
        "views": ("front", "back"),
        "min_duration_s": 0.2,
        "cue": "c",
        "source": "test",
    }
    base.update(kw)
    return RuleSpec(**base)


@pytest.mark.parametrize(
    "lean_deg, frames, expected",
    [
        (20.0, 30, Status.FAULT),  # 1 s of 20 deg lean: fault
        (20.0, 3, Status.OK),  # 0.1 s blip: shorter than the 0.2 s debounce
        (8.0, 30, Status.OK),  # under the limit
        (-20.0, 30, Status.FAULT),  # abs_above: either direction
    ],
)
def test_debounced_trunk_lean(lean_deg: float, frames: int, expected: Status) -> None:
    poses = [Pose()] * 30 + [Pose(trunk_lateral=lean_deg)] * frames + [Pose()] * 30
    t = table_of(poses)
    c = judge(rule(), t, window(t, View.FRONT), baselines={})
    assert c.status is expected
    if expected is Status.FAULT:
        assert abs(c.value) == pytest.approx(20.0, abs=0.5)


def test_wrong_view_is_unknown_with_a_reason() -> None:
    t = table_of([Pose(trunk_lateral=30.0)] * 30)
    c = judge(rule(), t, window(t, View.SIDE), baselines={})
    assert c.status is Status.UNKNOWN and np.isnan(c.value)
    assert c.reason == "unknown — face the camera"
    side_rule = rule(measure="trunk_forward_lean_deg", op="above", limit=50.0, views=("side",))
    c = judge(side_rule, t, window(t, View.FRONT), baselines={})
    assert c.reason == "unknown — turn side-on to the camera"
    assert view_reason((View.FRONT, View.SIDE)) == "unknown — face the camera or turn side-on"
    assert view_reason((View.UNKNOWN,)) == "unknown — camera view not suitable"


def test_hidden_feet_is_unknown_step_back() -> None:
    t = table_of(
        [Pose(valgus=(25.0, 25.0))] * 30,
        hidden=(Lm.LEFT_ANKLE, Lm.RIGHT_ANKLE, Lm.LEFT_FOOT_INDEX, Lm.RIGHT_FOOT_INDEX),
    )
    r = rule(measure="knee_medial_of_foot_ratio", unit="ratio", op="above", limit=0.1, side="both")
    c = judge(r, t, window(t, View.FRONT), baselines={})
    assert c.status is Status.UNKNOWN and c.reason == "feet not visible: step back"


def test_missing_reason_names_the_body_part() -> None:
    xy = np.zeros((10, 33, 2))
    xy[:, Lm.LEFT_HIP] = np.nan
    assert missing_reason(xy, (Lm.LEFT_HIP, Lm.LEFT_KNEE)) == "hips not visible: step back"
    assert missing_reason(np.full((5, 33, 2), np.nan), (Lm.LEFT_HIP,)) == "no person in view"


def test_knee_over_foot_flags_valgus_and_picks_the_worse_side() -> None:
    t = table_of([Pose(valgus=(0.0, 20.0))] * 30)
    r = load_exercise("squat").rule("knee_valgus")
    c = judge(r, t, window(t, View.FRONT), baselines={})
    assert c.status is Status.FAULT and c.side == "right"
    assert c.value == pytest.approx(np.sin(np.radians(20.0)), abs=0.05)


def test_baseline_and_per_person_override() -> None:
    t = table_of([Pose(pelvic_drop=12.0)] * 30)  # right hip lower by 12 deg = drop with the left leg in stance
    r = rule(id="pelvic_drop", measure="pelvic_drop_deg", op="above", limit=10.0, side="working")
    win = window(t, View.FRONT, Side.LEFT)
    assert judge(r, t, win, baselines={}).status is Status.FAULT
    # the same tilt was already there standing: relative to the person's baseline it is no drop
    rb = rule(id="pelvic_drop", measure="pelvic_drop_deg", op="above", limit=10.0, side="working", baseline=True)
    c = judge(rb, t, win, baselines={("pelvic_drop_deg", "left"): 12.0})
    assert c.status is Status.OK and c.value == pytest.approx(0.0, abs=0.1)
    assert judge(r, t, win, baselines={}, overrides={"pelvic_drop": 15.0}).status is Status.OK


def test_outside_operator_and_tempo() -> None:
    t = table_of([Pose(knee_flex=(120.0, 120.0))] * 30, "side")
    r = load_exercise("wall_sit").rule("wall_sit_knee_angle")
    c = judge(r, t, window(t, View.SIDE), baselines={}, combine="mean")
    assert c.status is Status.FAULT and c.value == pytest.approx(120.0, abs=1.0)
    t2 = table_of([Pose(knee_flex=(90.0, 90.0))] * 30, "side")
    assert judge(r, t2, window(t2, View.SIDE), baselines={}, combine="mean").status is Status.OK
    fast = load_exercise("squat").rule("too_fast")
    w = Window(0, 10, 5, None, View.SIDE, 0.5)
    c = judge(fast, t, w, baselines={})
    assert c.status is Status.FAULT and c.value == 0.5 and c.unit == "s"


def test_measures_nan_in_nan_out_and_cut_detection() -> None:
    seq = to_seq([Pose()] * 3, present=np.array([True, False, True]))
    a = PoseArrays.from_seq(seq)
    for name, m in MEASURES.items():
        v = m(a, Side.LEFT) if m.sided else m(a)
        assert v.shape == (3,), name
        assert np.isnan(v[1]), name
    moved = seq.xy_px[0] + 300.0
    assert jump_ratio(seq.xy_px[0], moved) > 0.35 > jump_ratio(seq.xy_px[0], seq.xy_px[0] + 1.0)


def test_one_operator_table_for_rules_holds_and_the_rest() -> None:
    from formcheck.core import ops

    assert ops.compare("above", 11.0, 10.0) and not ops.compare("above", 10.0, 10.0)
    assert ops.compare("below", 9.0, 10.0) and not ops.compare("below", 10.0, 10.0)
    assert ops.compare("abs_above", -11.0, 10.0) and not ops.compare("abs_above", -9.0, 10.0)
    assert ops.compare("outside", 4.0, 5.0, 8.0) and ops.compare("outside", 9.0, 5.0, 8.0)
    assert not ops.compare("outside", 6.0, 5.0, 8.0)
    assert ops.compare("ge", 10.0, 10.0) and ops.compare("le", 10.0, 10.0) and not ops.compare("gt", 10.0, 10.0)
    assert not ops.compare("above", float("nan"), 10.0)  # an unseen value is never past a limit
    assert ops.excess("below", 7.0, 10.0) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="unknown operator"):
        ops.compare("over", 1.0, 0.0)
    assert set(ops.RULE_OPS) <= set(ops.OPERATORS)
