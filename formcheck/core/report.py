"""Reports: the JSON document ("formcheck.report/1") and the terminal table of a judged set."""

from __future__ import annotations

import dataclasses
import math

from formcheck.core.results import LiveFeedback, Rep, SetResult
from formcheck.core.rules import Check

SCHEMA = "formcheck.report/1"


@dataclasses.dataclass(frozen=True)
class Report:
    """A judged set plus where it came from (video, pose model)."""

    result: SetResult
    video: str | None = None
    model_sha256: str | None = None
    frame_wh: tuple[int, int] | None = None


def _num(v: float | None, nd: int = 2) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return round(float(v), nd)


def _check_json(c: Check) -> dict[str, object]:
    return {
        "rule": c.rule,
        "status": str(c.status),
        "value": _num(c.value),
        "threshold": _num(c.threshold),
        "unit": c.unit,
        "reason": c.reason,
    }


def _rep_json(r: Rep) -> dict[str, object]:
    return {
        "index": r.index,
        "start_s": _num(r.start_s, 3),
        "bottom_s": _num(r.bottom_s, 3),
        "end_s": _num(r.end_s, 3),
        "duration_s": _num(r.duration_s, 3),
        "side": r.side,
        "view": r.view,
        "valid": r.valid,
        "verdict": str(r.verdict),
        "why": r.why,
        "peak": {k: _num(v) for k, v in r.peak.items()},
        "faults": [
            {
                "rule": f.rule,
                "value": _num(f.value),
                "threshold": _num(f.threshold),
                "unit": f.unit,
                "severity": f.severity,
                "cue": f.cue,
            }
            for f in r.faults
        ],
        "checks": [_check_json(c) for c in r.checks],
    }


def report_to_json(obj: Report | SetResult) -> dict[str, object]:
    """The report as plain JSON-able data (schema "formcheck.report/1")."""
    rep = obj if isinstance(obj, Report) else Report(result=obj)
    res = rep.result
    summary: dict[str, object] = {
        "reps": res.rep_count,
        "valid_reps": res.valid_rep_count,
        "invalid_reps": sum(r.verdict == "invalid" for r in res.reps),
        "unknown_reps": sum(r.verdict == "unknown" for r in res.reps),
    }
    by_side: dict[str, dict[str, int]] = {}
    for r in res.reps:
        if r.side:
            d = by_side.setdefault(r.side, {"reps": 0, "valid_reps": 0})
            d["reps"] += 1
            d["valid_reps"] += int(r.valid)
    if by_side:
        summary["by_side"] = by_side
    counts: dict[str, int] = {}
    for r in res.reps:
        for f in r.faults:
            counts[f.rule] = counts.get(f.rule, 0) + 1
    summary["faults"] = counts
    if res.hold is not None:
        h = res.hold
        summary["hold"] = {
            "good_form_s": _num(h.good_form_s),
            "in_position_s": _num(h.in_position_s),
            "longest_good_s": _num(h.longest_good_s),
            "target_s": h.target_s,
            "min_s": h.min_s,
            "met": h.met,
            "checks": [_check_json(c) for c in h.checks],
        }
    return {
        "schema": SCHEMA,
        "exercise": res.exercise_id,
        "exercise_name": res.exercise_name,
        "video": rep.video,
        "frame_wh": list(rep.frame_wh) if rep.frame_wh else None,
        "view": res.view,
        "side": res.side,
        "model_sha256": rep.model_sha256,
        "spec_sha256": res.spec_sha256,
        "algo_version": res.algo_version,
        "n_frames": res.n_frames,
        "duration_s": _num(res.duration_s, 3),
        "detected_ratio": _num(res.detected_ratio, 3),
        "messages": [{"code": m.code, "text": m.text} for m in res.messages],
        "reps": [_rep_json(r) for r in res.reps],
        "summary": summary,
    }


def render_table(obj: Report | SetResult) -> str:
    """A plain-text table of the reps (or the hold) and any input messages, for the terminal."""
    res = obj.result if isinstance(obj, Report) else obj
    lines = [
        f"{res.exercise_name} ({res.exercise_id}) — view: {res.view}" + (f", side: {res.side}" if res.side else "")
    ]
    for m in res.messages:
        lines.append(f"! {m.text}")
    if res.hold is not None:
        h = res.hold
        lines.append(
            f"hold: {h.good_form_s:.1f} s in good form of {h.in_position_s:.1f} s in position "
            f"(target {h.target_s:.0f} s, minimum {h.min_s:.0f} s: {'met' if h.met else 'not met'})"
        )
        for c in h.checks:
            val = "—" if not math.isfinite(c.value) else f"{c.value:.1f} {c.unit}"
            lines.append(f"  {c.rule:<24} {str(c.status):<8} {val:<12} {c.reason}")
        return "\n".join(lines)
    head = f"{'#':>3}  {'side':<6} {'start':>6} {'bottom':>7} {'end':>6}  {'verdict':<8} why"
    lines += [head, "-" * len(head)]
    for r in res.reps:
        lines.append(
            f"{r.index:>3}  {r.side or '-':<6} {r.start_s:>6.2f} {r.bottom_s:>7.2f} {r.end_s:>6.2f}  "
            f"{str(r.verdict):<8} {r.why}"
        )
        for f in r.faults:
            lines.append(f"{'':>5}  {f.rule}: {f.value:.2f} {f.unit} (limit {f.threshold:g} {f.unit}, {f.severity})")
    lines.append(f"reps: {res.rep_count}, valid: {res.valid_rep_count}")
    return "\n".join(lines)


def live_feedback_to_json(fb: LiveFeedback) -> dict[str, object]:
    """One LiveFeedback as plain JSON data for the live page's WebSocket."""
    return {
        "t_s": _num(fb.t_s, 3),
        "phase": fb.phase,
        "rep_count": fb.rep_count,
        "valid_rep_count": fb.valid_rep_count,
        "cues": list(fb.cues),
        "new_cues": list(fb.new_cues),
        "guidance": list(fb.guidance),
        "guidance_keys": list(fb.guidance_keys),
        "view": fb.view,
        "new_rep": None if fb.new_rep is None else _rep_json(fb.new_rep),
        "overlay": fb.overlay.to_json(),
        "hold_good_s": _num(fb.hold_good_s),
        "hold_in_position_s": _num(fb.hold_in_position_s),
    }
