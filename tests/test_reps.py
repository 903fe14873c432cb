"""Rep counter tables on 1-D signals with known events; the streaming counter and segment_reps agree."""

from __future__ import annotations

import numpy as np
import pytest

from formcheck.core.reps import HoldTimer, Phase, RepCounter, segment_reps, time_hold
from formcheck.core.spec import HoldSpec, RepSpec

FPS = 30.0
SPEC = RepSpec(
    measure="knee_flexion_3d_deg",
    unit="deg",
    enter=45.0,
    exit=35.0,
    min_range=20.0,
    min_rep_s=0.5,
    max_rep_s=10.0,
    max_gap_s=1.0,
)


def bumps(
    peaks: list[float],
    *,
    rep_s: float = 2.0,
    rest_s: float = 1.0,
    base: float = 15.0,
    lead_s: float = 1.0,
    hold_bottom_s: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A standing lead-in, then one cosine bump per entry of `peaks` (deg), optionally paused at the bottom."""
    parts = [np.full(int(lead_s * FPS), base)]
    for p in peaks:
        n = int(rep_s * FPS)
        half = np.linspace(0, np.pi, n // 2)
        down = base + (p - base) * 0.5 * (1 - np.cos(half))
        parts += [down, np.full(int(hold_bottom_s * FPS), p), down[::-1], np.full(int(rest_s * FPS), base)]
    x = np.concatenate(parts)
    return x, np.arange(len(x)) / FPS


def count(x: np.ndarray, t: np.ndarray, spec: RepSpec = SPEC, cuts: np.ndarray | None = None) -> list:
    return segment_reps(x, t, spec, cuts)


def test_clean_reps_count_on_return_with_times() -> None:
    x, t = bumps([90, 95, 100])
    reps = count(x, t)
    assert len(reps) == 3
    # each rep starts when leaving the start (the rest tolerance and the counter's 0.15 s spike median put it
    # up to ~0.25 s after the first movement), peaks mid-way, ends on the way back up
    for k, r in enumerate(reps):
        t0 = 1.0 + k * 3.0
        assert r.start_s == pytest.approx(t0, abs=0.3)
        assert r.peak_s == pytest.approx(t0 + 1.0, abs=0.15)
        assert t0 + 1.3 < r.end_s < t0 + 2.1
        assert r.tempo_s == pytest.approx(2.0, abs=0.1)  # the bump's real duration, from its half-range width
    assert [round(r.peak_value) for r in reps] == [90, 95, 100]


def test_count_happens_only_after_return_not_at_bottom() -> None:
    x, t = bumps([90])
    c = RepCounter(SPEC)
    events = [(i, c.update(i, float(ti), float(v))) for i, (ti, v) in enumerate(zip(t, x, strict=True))]
    ((i_done, ev),) = [(i, e) for i, e in events if e is not None]
    assert i_done > int(np.argmax(x)) + 10
    assert ev.end_i == i_done and c.count == 1 and c.phase is Phase.START


@pytest.mark.parametrize(
    "case, signal, expected",
    [
        # jitter around the enter threshold at the bottom of a shallow rep: one rep, not several
        (
            "jitter at threshold",
            np.concatenate(
                [
                    np.full(30, 15.0),
                    np.linspace(15, 50, 30),
                    50 + 6 * np.sin(np.arange(60) * 2.0),
                    np.linspace(50, 15, 30),
                    np.full(30, 15.0),
                ]
            ),
            1,
        ),
        # half reps: never past `enter`
        (
            "half reps",
            np.concatenate(
                [np.full(30, 15.0)] + [np.concatenate([np.linspace(15, 42, 30), np.linspace(42, 15, 30)])] * 3
            ),
            0,
        ),
        # partial return mid-rep (bounce at the bottom) stays one rep
        (
            "bounce at bottom",
            np.concatenate(
                [
                    np.full(30, 15.0),
                    np.linspace(15, 90, 30),
                    np.linspace(90, 70, 10),
                    np.linspace(70, 95, 10),
                    np.linspace(95, 15, 30),
                    np.full(30, 15.0),
                ]
            ),
            1,
        ),
        # too fast: a 0.3 s spike is not a rep (ghost)
        (
            "spike too fast",
            np.concatenate([np.full(30, 15.0), np.linspace(15, 90, 4), np.linspace(90, 15, 5), np.full(30, 15.0)]),
            0,
        ),
        # too slow: longer than max_rep_s
        (
            "too slow",
            np.concatenate(
                [
                    np.full(30, 15.0),
                    np.linspace(15, 90, 200),
                    np.full(200, 90.0),
                    np.linspace(90, 15, 30),
                    np.full(30, 15.0),
                ]
            ),
            0,
        ),
        # starting at the bottom: the first rising half rep is not counted
        (
            "starts at bottom",
            np.concatenate(
                [
                    np.linspace(95, 15, 30),
                    np.full(30, 15.0),
                    np.linspace(15, 90, 30),
                    np.linspace(90, 15, 30),
                    np.full(20, 15.0),
                ]
            ),
            1,
        ),
        # ends at the bottom: the unfinished rep is not counted
        (
            "ends at bottom",
            np.concatenate(
                [
                    np.full(30, 15.0),
                    np.linspace(15, 90, 30),
                    np.linspace(90, 15, 30),
                    np.full(20, 15.0),
                    np.linspace(15, 90, 30),
                ]
            ),
            1,
        ),
        # never fully straightens between reps (split squat): still counts each rep
        (
            "no full return",
            np.concatenate(
                [np.full(30, 40.0)] + [np.concatenate([np.linspace(40, 100, 20), np.linspace(100, 40, 20)])] * 4
            ),
            4,
        ),
    ],
)
def test_rep_counter_table(case: str, signal: np.ndarray, expected: int) -> None:
    t = np.arange(len(signal)) / FPS
    assert len(count(signal, t)) == expected, case


def test_pause_at_bottom_counts_once() -> None:
    x, t = bumps([90, 90], hold_bottom_s=3.0)
    reps = count(x, t)
    assert len(reps) == 2
    assert all(r.duration_s > 4.0 for r in reps)


def test_short_gap_without_person_keeps_the_rep_long_gap_abandons_it() -> None:
    x, t = bumps([90, 90])
    short = x.copy()
    short[45:55] = np.nan  # 0.33 s without a person during rep 1
    assert len(count(short, t)) == 2
    long_gap = x.copy()
    long_gap[40:90] = np.nan  # 1.7 s > max_gap_s during rep 1: rep 1 is not counted
    assert len(count(long_gap, t)) == 1


def test_all_nan_counts_nothing() -> None:
    t = np.arange(100) / FPS
    assert count(np.full(100, np.nan), t) == []


def test_camera_cut_abandons_the_rep_in_progress() -> None:
    x, t = bumps([90, 90])
    cuts = np.zeros(len(x), bool)
    cuts[60] = True  # mid rep 1
    assert len(count(x, t, cuts=cuts)) == 1


def test_decreasing_signal_direction() -> None:
    spec = RepSpec(
        measure="bridge_hip_angle_deg", unit="deg", direction="decrease", enter=130.0, exit=150.0, min_range=10.0
    )
    x, t = bumps([100, 100], base=170.0)
    reps = count(x, t, spec)
    assert len(reps) == 2 and reps[0].peak_value == pytest.approx(100.0, abs=0.5)


def test_streaming_and_offline_agree_on_every_table_case() -> None:
    rng = np.random.default_rng(3)
    for k in range(20):
        x, t = bumps(list(rng.uniform(40, 110, size=rng.integers(1, 6))), rep_s=float(rng.uniform(0.6, 4)))
        x = x + rng.normal(0, 3, len(x))
        x[rng.random(len(x)) < 0.05] = np.nan
        c = RepCounter(SPEC)
        live = [
            e
            for i, (ti, v) in enumerate(zip(t.tolist(), x.tolist(), strict=True))
            if (e := c.update(i, ti, v)) is not None
        ]
        assert live == count(x, t), k


HOLD = HoldSpec(measure="knee_flexion_3d_deg", unit="deg", enter=40.0, exit=30.0, target_s=30.0, min_s=10.0)


def test_hold_time_counts_only_in_position_and_good_form() -> None:
    t = np.arange(int(20 * FPS)) / FPS
    x = np.where((t > 2) & (t < 18), 80.0, 10.0)
    good = ~((t > 8) & (t < 11))  # 3 s of bad form in the middle
    tot = time_hold(x, t, good, HOLD)
    assert tot.in_position_s == pytest.approx(16.0, abs=0.1)
    assert tot.good_form_s == pytest.approx(13.0, abs=0.1)
    assert tot.longest_good_s == pytest.approx(7.0, abs=0.1)
    timer = HoldTimer(HOLD)
    for ti, v, g in zip(t, x, good, strict=True):
        timer.update(float(ti), float(v), bool(g))
    assert timer.totals() == tot
