"""The camera sweep's cells: per clip, each measure's error against the ground truth by frame set, and from the
cells, each rule's trusted camera-yaw window and the whole table (tools/synth/sweep.py's docstring defines them)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from formcheck.core.landmarks import Side
from formcheck.mannequin.exercises import Rep
from tools.synth.sweep_grid import (
    BASELINE_SKIP_S,
    BOTTOM_HALF_WINDOW_S,
    FPS,
    NO_FAULT_RANGE_SHARE,
    SWEEP_FORMAT,
    SWEEP_VERSION,
    TRUSTED_ERROR_SHARE,
    YAWS_DEG,
    ClipSpec,
    Motion,
    build_motion,
    exact_seq,
    exercise_faults,
    sweep_camera,
    true_viewpoint,
    truth_arrays,
    truth_kind,
    working_side,
)

# ------------------------------------------------------------------------------------------ tabulation

# Rule id -> the injected fault that rule is meant to catch (rules without one are scored against the margin
# between the clean rep's true value and the rule's limit instead).
RULE_FAULT: Mapping[str, str] = {
    "knee_valgus": "knee_valgus",
    "knees_caving_width": "knee_valgus",
    "pelvic_drop": "pelvic_drop",
    "trunk_lateral_lean": "trunk_lateral_lean",
    "trunk_forward_lean": "trunk_forward_lean",
    "hip_hiking": "hip_hiking",
    "hip_flexion_drift": "hip_flexion_drift",
    "pelvic_roll_back": "pelvic_rollback",
}


@dataclasses.dataclass(frozen=True)
class Series:
    """One measure on one side of one exercise, as the exercise's rules read it."""

    measure: str
    side: str  # "left" / "right" / "none" / "max" (the rep signal's combination of both sides)
    rules: tuple[str, ...]  # rule ids (or "rep") that read it


def exercise_series(exercise: str, side: Side) -> list[Series]:
    """The measures the exercise's TOML reads (rep signal + every rule except rep_duration_s), per side."""
    from formcheck.core import spec as spec_mod
    from formcheck.core.measures import MEASURES

    sp = spec_mod.load_exercise(exercise)
    want: dict[tuple[str, str], list[str]] = {}
    if sp.rep is not None:
        want.setdefault((sp.rep.measure, "max" if MEASURES[sp.rep.measure].sided else "none"), []).append("rep")
    for r in sp.rules:
        if r.measure not in MEASURES:
            continue  # rep_duration_s: timing, not a landmark measure
        if not MEASURES[r.measure].sided:
            sides = ["none"]
        elif r.side == "both":
            sides = ["left", "right"]
        elif r.side == "other":
            sides = [str(side.other)]
        else:  # working, signal (the series that counted the rep: the working leg here)
            sides = [str(side)]
        for sd in sides:
            want.setdefault((r.measure, sd), []).append(r.id)
    return [Series(m, sd, tuple(dict.fromkeys(ids))) for (m, sd), ids in want.items()]


def series_values(arrays, s: Series) -> NDArray:
    from formcheck.core.measures import MEASURES

    m = MEASURES[s.measure]
    if s.side == "none":
        return m(arrays)
    if s.side == "max":
        return np.fmax(m(arrays, Side.LEFT), m(arrays, Side.RIGHT))
    return m(arrays, Side(s.side))


def _stats(err: NDArray) -> dict:
    e = np.abs(err[np.isfinite(err)])
    if e.size == 0:
        return {"n": 0, "p50_abs_err": None, "p90_abs_err": None}
    return {"n": int(e.size), "p50_abs_err": _round(np.percentile(e, 50)), "p90_abs_err": _round(np.percentile(e, 90))}


def _round(x: float | None, nd: int = 3) -> float | None:
    if x is None or not math.isfinite(float(x)):
        return None
    return round(float(x), nd) + 0.0


def _frame_sets(motion: Motion) -> dict[str, NDArray]:
    t = motion.t_s
    bottom = np.zeros(len(t), dtype=bool)
    for rep in motion.reps:
        bottom |= np.abs(t - rep.bottom_s) <= BOTTOM_HALF_WINDOW_S + 1e-9
    base = (t >= BASELINE_SKIP_S) & (t < motion.reps[0].start_s)
    clean = motion.rep_of_frame == 1
    return {
        "bottom": bottom,
        "rep": motion.rep_of_frame > 0,
        "clean": clean,
        "bottom_clean": bottom & clean,
        "baseline": base,
    }


def _bottom_value(x: NDArray, motion: Motion, rep: Rep) -> float:
    w = np.abs(motion.t_s - rep.bottom_s) <= BOTTOM_HALF_WINDOW_S + 1e-9
    v = x[w]
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def clip_cells(spec: ClipSpec, motion: Motion, raw_seq) -> tuple[list[dict], dict]:
    """Error statistics of every series of one clip, and the viewpoint estimator's error on it."""
    from formcheck.core.measures import PoseArrays
    from formcheck.core.smoothing import smooth_seq
    from formcheck.core.viewpoint import estimate_seq

    seq = smooth_seq(raw_seq)
    arrays = PoseArrays.from_seq(seq)
    sets = _frame_sets(motion)
    truths = {k: truth_arrays(motion, k) for k in ("frontal", "sagittal", "world")}
    cam = spec.camera
    where = {"yaw_deg": cam.yaw_deg, "height_m": cam.height_m, "distance_m": cam.distance_m}
    cells = []
    for s in exercise_series(spec.exercise, spec.side):
        from formcheck.core.measures import MEASURES

        meas = series_values(arrays, s)
        truth = series_values(truths[truth_kind(s.measure)], s)
        err = meas - truth
        with np.errstate(invalid="ignore"):
            bm = np.nanmedian(meas[sets["baseline"]]) if np.isfinite(meas[sets["baseline"]]).any() else np.nan
            bt = np.nanmedian(truth[sets["baseline"]]) if np.isfinite(truth[sets["baseline"]]).any() else np.nan
        rel = (meas - bm) - (truth - bt)
        faults = {}
        clean = motion.reps[0]
        for rep in motion.reps[1:]:
            for f in rep.faults:
                faults[f] = {
                    "true_sep": _round(_bottom_value(truth, motion, rep) - _bottom_value(truth, motion, clean)),
                    "measured_sep": _round(_bottom_value(meas, motion, rep) - _bottom_value(meas, motion, clean)),
                }
        cells.append(
            {
                "exercise": spec.exercise,
                "measure": s.measure,
                "side": s.side,
                "rules": list(s.rules),
                "units": MEASURES[s.measure].unit,
                "truth": truth_kind(s.measure),
                **where,
                "true_clean_bottom": _round(_bottom_value(truth, motion, clean)),
                "true_clean_range": _round(_bottom_value(truth, motion, clean) - bt),
                "bottom": {
                    **_stats(err[sets["bottom"]]),
                    "p90_abs_err_rel": _stats(rel[sets["bottom"]])["p90_abs_err"],
                },
                "rep": {**_stats(err[sets["rep"]]), "p90_abs_err_rel": _stats(rel[sets["rep"]])["p90_abs_err"]},
                "clean_rep": {
                    **_stats(err[sets["clean"]]),
                    "p90_abs_err_rel": _stats(rel[sets["clean"]])["p90_abs_err"],
                },
                "bottom_clean": {
                    **_stats(err[sets["bottom_clean"]]),
                    "p90_abs_err_rel": _stats(rel[sets["bottom_clean"]])["p90_abs_err"],
                },
                "faults": faults,
            }
        )
    vp = estimate_seq(seq)
    ty, te = true_viewpoint(motion, sweep_camera(spec.exercise, cam))
    yerr = (vp.yaw_signed_deg - ty + 180.0) % 360.0 - 180.0
    eerr = vp.elevation_deg - te
    est = {
        "exercise": spec.exercise,
        **where,
        "true_yaw_deg": _round(np.median(ty), 1),
        "true_elevation_deg": _round(np.median(te), 1),
        "est_yaw_p50_deg": _round(np.nanmedian(vp.yaw_signed_deg), 1) if np.isfinite(vp.yaw_signed_deg).any() else None,
        "yaw": _stats(yerr),
        "elevation": _stats(eerr),
        "confidence_p50": _round(np.median(vp.confidence), 2),
        "detected_share": _round(float(seq.detected.mean()), 3),
    }
    return cells, est


def trusted_window(by_yaw: Mapping[str, dict], measure: str, key: str = "trusted") -> list[float] | None:
    """[lo, hi]: the contiguous run of trusted yaws (0-90, among those swept in this camera row) around the
    measure's home view (0 for frontal measures, 90 for sagittal ones, else its lowest-error yaw), or None
    when the home view itself is not trusted."""
    from formcheck.core.measures import FRONTAL, MEASURES, SAGITTAL

    yaws = sorted(float(y) for y in by_yaw if float(y) <= YAWS_DEG[-1])
    ok = [y for y in yaws if by_yaw[f"{y:g}"].get(key)]
    if not ok:
        return None
    views = MEASURES[measure].views
    if views <= FRONTAL:
        home = yaws[0]
    elif views <= SAGITTAL:
        home = yaws[-1]
    else:
        p90 = "p90_clean" if key == "trusted_clean" else "p90"
        home = min(ok, key=lambda y: by_yaw[f"{y:g}"][p90])
    if home not in ok:
        return None
    i = j = yaws.index(home)
    while i > 0 and yaws[i - 1] in ok:
        i -= 1
    while j < len(yaws) - 1 and yaws[j + 1] in ok:
        j += 1
    return [yaws[i], yaws[j]]


def rule_windows(cells: list[dict]) -> list[dict]:
    """Per rule and camera height/distance: the yaws where the rule's measure is trusted, i.e. its p90 error
    (at rep bottoms for `at = "peak"` rules, over the rep otherwise; baseline-relative for `baseline` rules)
    is under TRUSTED_ERROR_SHARE of the separation: the injected fault's clean-vs-faulty true difference, or,
    for rules without an injected fault (depth, range, stance width, knee past toe), the larger of
    NO_FAULT_RANGE_SHARE x the clean rep's true range and the clean bottom's margin to the limit."""
    from formcheck.core import spec as spec_mod

    out = []
    by_key: dict[tuple, list[dict]] = {}
    for c in cells:
        for rid in c["rules"]:
            by_key.setdefault((c["exercise"], rid, c["measure"], c["side"]), []).append(c)
    for (ex, rid, measure, side), cs in sorted(by_key.items()):
        if rid == "rep":
            continue
        rule = spec_mod.load_exercise(ex).rule(rid)
        fault = RULE_FAULT.get(rid)
        seps = [
            abs(c["faults"][fault]["true_sep"])
            for c in cs
            if fault and fault in c["faults"] and c["faults"][fault]["true_sep"] is not None
        ]
        if seps:
            sep, source = float(np.median(seps)), f"fault {fault}: clean vs faulty true value at the bottom"
        else:
            seps = [
                max(NO_FAULT_RANGE_SHARE * abs(c["true_clean_range"]), abs(rule.limit - c["true_clean_bottom"]))
                for c in cs
                if c["true_clean_bottom"] is not None and c["true_clean_range"] is not None
            ]
            sep = float(np.median(seps)) if seps else math.nan
            source = (
                f"no injected fault: {NO_FAULT_RANGE_SHARE} x the clean rep's true range (a rep "
                f"{NO_FAULT_RANGE_SHARE:g} as deep), or the clean bottom's margin to the limit if larger"
            )
        stat = "bottom" if rule.at == "peak" else "rep"
        stat_clean = "bottom_clean" if rule.at == "peak" else "clean_rep"
        key = "p90_abs_err_rel" if rule.baseline else "p90_abs_err"
        windows = {}
        for c in cs:
            hk = f"h{c['height_m']:g}_d{c['distance_m']:g}"
            e, ec = c[stat][key], c[stat_clean][key]
            ok = e is not None and math.isfinite(sep) and e < TRUSTED_ERROR_SHARE * sep
            okc = ec is not None and math.isfinite(sep) and ec < TRUSTED_ERROR_SHARE * sep
            msep = c["faults"].get(fault, {}).get("measured_sep") if fault else None
            windows.setdefault(hk, {})[f"{c['yaw_deg']:g}"] = {
                "p90": e,
                "trusted": bool(ok),
                "p90_clean": ec,
                "trusted_clean": bool(okc),
                "measured_sep": msep,
            }
        out.append(
            {
                "exercise": ex,
                "rule": rid,
                "measure": measure,
                "side": side,
                "units": cs[0]["units"],
                "limit": rule.limit,
                "baseline": rule.baseline,
                "error_from": f"{stat}.{key}",
                "separation": _round(sep),
                "separation_source": source,
                "max_trusted_p90": _round(TRUSTED_ERROR_SHARE * sep),
                "error_from_clean": f"{stat_clean}.{key}",
                "window_deg": {hk: trusted_window(w, measure) for hk, w in windows.items()},
                "window_clean_deg": {hk: trusted_window(w, measure, "trusted_clean") for hk, w in windows.items()},
                "by_camera": windows,
            }
        )
    return out


def build_table(specs: list[ClipSpec], seqs: Mapping[str, object]) -> dict:
    """The whole machine-readable table (benchmarks/view_sweep.json) from the posed clips."""
    from formcheck.media.pose import resolve_model
    from tools.synth.fixtures import GENERATOR_VERSION

    motions: dict[str, Motion] = {}
    cells, estimator = [], []
    for spec in specs:
        if spec.exercise not in motions:
            motions[spec.exercise] = build_motion(spec.exercise, spec.side, spec.faults)
        c, e = clip_cells(spec, motions[spec.exercise], seqs[spec.name])
        exact, _ = clip_cells(
            spec, motions[spec.exercise], exact_seq(motions[spec.exercise], sweep_camera(spec.exercise, spec.camera))
        )
        for cell, ex in zip(c, exact, strict=True):
            cell["geometry_only"] = {
                part: {k: ex[part][k] for k in ("p50_abs_err", "p90_abs_err", "p90_abs_err_rel")}
                for part in ("bottom", "rep")
            }
        cells += c
        estimator.append(e)
    cams = sorted({dataclasses.astuple(s.camera) for s in specs})
    return {
        "format": SWEEP_FORMAT,
        "sweep_version": SWEEP_VERSION,
        "generator_version": GENERATOR_VERSION,
        "model_sha256": resolve_model(None).sha256,
        "fps": FPS,
        "exercises": {
            ex: {"side": str(working_side(ex)), "faults": dict(exercise_faults(ex))}
            for ex in dict.fromkeys(s.exercise for s in specs)
        },
        "cameras": [{"yaw_deg": y, "height_m": h, "distance_m": d} for y, h, d in cams],
        "conventions": {
            "yaw_deg": "camera around the person towards the working side (side-lying: towards the head); "
            "0 = facing, 90 = side-on, 180 = behind",
            "error": "measured (MediaPipe, smoothed) minus truth, absolute, in `units`; bottom = frames within "
            f"{BOTTOM_HALF_WINDOW_S} s of each rep's bottom, rep = every frame in a rep; _rel = minus each "
            "series' standing baseline",
            "truth": "frontal/sagittal: the measure on an orthographic projection onto the body's frontal/sagittal "
            "plane; world: on the 3D ground truth (tools/synth/sweep.py docstring)",
            "trusted": f"p90 error < {TRUSTED_ERROR_SHARE} x separation (rule_windows docstring)",
            "geometry_only": "the same errors on exact perspective landmarks (exact_seq): the camera geometry's "
            "share, without MediaPipe's",
        },
        "cells": cells,
        "estimator": estimator,
        "rules": rule_windows(cells),
    }
