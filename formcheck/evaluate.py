"""`formcheck eval`: rep-count accuracy and per-rule precision/recall against a labelled manifest.

Manifest format: ../shared/videos/manifest.json ({"videos": [{file, exercise, reps, rep_times, faults, ...}]}).
Labelled faults are free text; FAULT_KEYWORDS maps them to rule ids (first match wins per text), and
rep_of_fault reads which reps a text is about ("rep 2", "reps 1-3", "all reps", "both reps", or a time such
as "(bottom ~1.2 s)"; with none of these, every rep). Texts saying "possible" or "uncertain" are "don't care":
neither a hit nor a false alarm for that rule on those reps. Advisory rules (severity "advisory", e.g. knee
past toes) are cues, not faults, and are not scored. Predicted reps are matched to labelled reps by time
overlap; faults on unmatched predicted reps count as false alarms. Holds (reps null) are left out of the count
metrics.

Two more figures the per-rule table cannot show: the false-fault rate on clean clips (of the reps counted on clips
whose label lists no fault at all, the share carrying a fault of severity "fault": what a person doing it right is
told), and every figure broken down by the labelled camera view (front / side / oblique / back / mixed), because
a rule that is right from the front and guesses from an oblique view looks fine in the totals.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from formcheck.core.offline import analyze_seq
from formcheck.core.results import SetResult
from formcheck.core.spec import load_exercise
from formcheck.core.types import PoseSeq
from formcheck.errors import InputError, SpecError

log = logging.getLogger(__name__)

# A manifest entry, a scored row or the summary: parsed or written JSON, whose values are of many types.
Json = dict[str, Any]

SCHEMA = "formcheck.eval/1"
# The labelled camera views of the manifest, in table order.
VIEWS = ("front", "side", "oblique", "back", "mixed")

# Free-text fault -> rule id (regular expressions, case-insensitive; first match wins).
FAULT_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("knee_valgus", r"valgus|medial drift|knees? (moving|caving|collaps\w*) in|knee.*inside the feet"),
    ("trunk_forward_lean", r"forward (trunk|torso) lean|hip hinge|leans? .*forward"),
    ("trunk_lateral_lean", r"lateral trunk|trunk sway|lean(s|ing)? to the side|side lean"),
    ("narrow_stance", r"tightrope|narrow.*stance|in[- ]line"),
    ("insufficient_depth", r"shallow|not deep|partial depth"),
    ("pelvic_drop", r"pelvic drop|hip drop"),
    ("hip_hiking", r"hik(e|ing)|hitch"),
    ("hip_flexion_drift", r"drift(s|ing)? forward|hip flexion drift"),
    ("pelvic_roll_back", r"roll(s|ing)? back|rollback"),
    ("plank_hip_sag", r"sag"),
    ("plank_pike", r"pike"),
    ("too_fast", r"too fast|rushed"),
    ("knee_past_toe", r"past (the )?toes"),
)
UNCERTAIN = re.compile(r"\b(possible|uncertain|maybe)\b", re.I)
# Rules that report the same clinical fault as a labelled rule (predictions are scored under the label's id).
RULE_FAMILY = {"knees_caving_width": "knee_valgus"}


def fault_rule(text: str) -> str | None:
    """The rule id a labelled fault text is about (None: no rule covers it)."""
    for rule, pattern in FAULT_KEYWORDS:
        if re.search(pattern, text, re.I):
            return rule
    return None


def rep_of_fault(text: str, rep_times: list[list[float]]) -> list[int]:
    """0-based indices of the labelled reps a fault text refers to."""
    n = len(rep_times)
    m = re.search(r"\breps? (\d+)\s*(?:-|–|to)\s*(\d+)", text, re.I)
    if m:
        return [i for i in range(int(m.group(1)) - 1, int(m.group(2))) if 0 <= i < n]
    m = re.search(r"\brep (\d+)", text, re.I)
    if m:
        return [int(m.group(1)) - 1] if 0 < int(m.group(1)) <= n else []
    if re.search(r"\b(all|both|each|every) reps?\b", text, re.I):
        return list(range(n))
    times = [float(x) for x in re.findall(r"~?\s*(\d+(?:\.\d+)?)\s*(?:-\s*\d+(?:\.\d+)?\s*)?s\b", text)]
    if times:
        hit = [i for i, (a, b) in enumerate(rep_times) if any(a - 0.2 <= t <= b + 0.2 for t in times)]
        if hit:
            return hit
    return list(range(n))


@dataclasses.dataclass
class RuleCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def _match(pred: list[tuple[float, float]], label: list[list[float]]) -> dict[int, int]:
    """label index -> predicted index, greedily by overlap (each used once)."""
    pairs = []
    for li, (a, b) in enumerate(label):
        for pi, (c, d) in enumerate(pred):
            ov = min(b, d) - max(a, c)
            if ov > 0:
                pairs.append((ov / (max(b, d) - min(a, c)), li, pi))
    out: dict[int, int] = {}
    used: set[int] = set()
    for _, li, pi in sorted(pairs, reverse=True):
        if li not in out and pi not in used:
            out[li] = pi
            used.add(pi)
    return out


def _pred_rules(faults: Iterable[str]) -> set[str]:
    return {RULE_FAMILY.get(f, f) for f in faults}


def _unscored_rules(exercise_id: str) -> frozenset[str]:
    """Rules a label may name that this exercise does not judge as faults (advisory there, or absent)."""
    try:
        spec = load_exercise(exercise_id)
    except SpecError:
        return frozenset()
    scored = {RULE_FAMILY.get(r.id, r.id) for r in spec.rules if r.severity == "fault"}
    return frozenset(rule for rule, _ in FAULT_KEYWORDS if rule not in scored)


def _labelled_rules(entry: Json, times: list[Any]) -> tuple[list[set[str]], list[set[str]], list[str]]:
    """Per labelled rep: the rules labelled as faults, the rules labelled uncertain (not scored either way), and
    the labels of faults this exercise only advises on (reported as unscored)."""
    want: list[set[str]] = [set() for _ in times]
    dont_care: list[set[str]] = [set() for _ in times]
    unscored = _unscored_rules(entry["exercise"])
    unscored_labels: list[str] = []
    for text in entry.get("faults", []):
        rule = fault_rule(text)
        if rule is None:
            continue
        if rule in unscored:
            unscored_labels.append(rule)
            continue
        target = dont_care if UNCERTAIN.search(text) else want
        for i in rep_of_fault(text, times):
            target[i].add(rule)
    return want, dont_care, unscored_labels


def score_video(entry: Json, result: SetResult, rules: dict[str, RuleCounts]) -> Json:
    """Score one video: count error, and update per-rule counts over matched reps."""
    label_reps = entry.get("reps")
    got = result.rep_count
    faulty = sum(any(f.severity == "fault" for f in r.faults) for r in result.reps)
    row = {
        "file": entry["file"],
        "exercise": entry["exercise"],
        "camera_view": entry.get("camera_view", "unknown"),
        "clean": not entry.get("faults"),
        "label_reps": label_reps,
        "reps": got,
        "valid_reps": result.valid_rep_count,
        "fault_reps": faulty,
        "borderline_reps": sum(bool(r.valid and r.borderline) for r in result.reps),
        "view": result.view,
        "messages": [m.code for m in result.messages],
    }
    if label_reps is None:
        if result.hold is not None:
            row["hold_good_s"] = round(result.hold.good_form_s, 2)
        return row
    row["error"] = got - label_reps
    times = entry.get("rep_times") or []
    want, dont_care, row["unscored_labels"] = _labelled_rules(entry, times)
    pred = [(r.start_s, r.end_s) for r in result.reps]
    match = _match(pred, times)
    own: dict[str, RuleCounts] = {}  # this video's counts, kept in the row for the per-view breakdown
    pred_sets = [_pred_rules(f.rule for f in r.faults if f.severity == "fault") for r in result.reps]
    matched_pred = set(match.values())
    for li in range(len(times)):
        p = pred_sets[match[li]] if li in match else set()
        for rule in (p | want[li]) - (dont_care[li] - want[li]):
            c = own.setdefault(rule, RuleCounts())
            if rule in p and rule in want[li]:
                c.tp += 1
            elif rule in p:
                c.fp += 1
            else:
                c.fn += 1
    for pi, p in enumerate(pred_sets):
        if pi not in matched_pred:
            for rule in p:
                own.setdefault(rule, RuleCounts()).fp += 1
    for rule, c in own.items():
        total = rules.setdefault(rule, RuleCounts())
        total.tp, total.fp, total.fn = total.tp + c.tp, total.fp + c.fp, total.fn + c.fn
    row["rules"] = {k: dataclasses.asdict(c) for k, c in sorted(own.items())}
    return row


# How a path analyses one labelled clip: (landmarks, manifest entry, side to pass: "left"/"right"/"auto").
Analyser = Callable[[PoseSeq, Json, str], SetResult]


def upload_analyser(seq: PoseSeq, entry: Json, side: str) -> SetResult:
    """The upload path: the whole clip at once (core.offline), as `formcheck analyze` and the review worker."""
    return analyze_seq(seq, entry["exercise"], side=side)


def labelled_side(entry: Json) -> str:
    """The working side the programme would pass for this clip: its labelled leg for one-sided and alternating
    exercises (for alternating ones only when the label names one leg), "auto" for bilateral ones."""
    side = entry.get("side_working")
    if side not in ("left", "right"):
        return "auto"
    try:
        mode = load_exercise(entry["exercise"]).side_mode
    except SpecError:
        return "auto"
    return side if mode != "bilateral" else "auto"


def read_manifest(manifest: str | Path) -> list[Json]:
    """The manifest's entries (InputError with a one-line reason when it is not a manifest)."""
    mpath = Path(manifest)
    try:
        data = json.loads(mpath.read_text(encoding="utf-8"))
        videos = data["videos"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{mpath}: not a readable manifest ({e})") from None
    return [v for v in videos if isinstance(v, dict)]


def run_eval(
    manifest: str | Path,
    *,
    landmarks_dir: str | Path | None = None,
    load: Callable[[Path], PoseSeq] | None = None,
    progress: Callable[[str], None] | None = None,
    analyse: Analyser = upload_analyser,
    side: str = "labelled",
) -> Json:
    """Analyse every video of a manifest (from landmark caches where given) with `analyse` and score it; `side`
    "labelled" passes each clip's labelled working side (as the programme does), "auto" lets it be detected."""
    mpath = Path(manifest)
    rows = []
    rules: dict[str, RuleCounts] = {}
    for entry in read_manifest(mpath):
        if entry.get("person_visible") is False:
            continue
        video = mpath.parent / entry["file"]
        if progress:
            progress(entry["file"])
        seq = load_seq(video, landmarks_dir, load)
        result = analyse(seq, entry, labelled_side(entry) if side == "labelled" else "auto")
        rows.append(score_video(entry, result, rules))
    return summarise(rows, rules)


def load_seq(video: Path, landmarks_dir: str | Path | None, load: Callable[[Path], PoseSeq] | None) -> PoseSeq:
    if landmarks_dir is not None:
        npz = Path(landmarks_dir) / f"{video.stem}.npz"
        if npz.is_file():
            return PoseSeq.load_npz(npz)
    if load is not None:
        return load(video)
    from formcheck.media import pose

    return pose.estimate_video(video, use_cache=True)


def _rate(xs: list[bool]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def _mae(xs: list[int]) -> float | None:
    return round(sum(abs(x) for x in xs) / len(xs), 4) if xs else None


def _count_figures(rows: list[Json]) -> Json:
    errs = [r["error"] for r in rows if r["label_reps"] is not None]
    return {"videos": len(errs), "exact_rate": _rate([e == 0 for e in errs]), "mae": _mae(errs)}


def false_fault_rate(rows: list[Json]) -> Json:
    """Of the reps counted on clips whose label lists no fault, the share with a fault of severity "fault"."""
    clean = [r for r in rows if r.get("clean") and r["label_reps"] is not None]
    reps = sum(r["reps"] for r in clean)
    faulty = sum(r.get("fault_reps", 0) for r in clean)
    return {
        "clean_videos": len(clean),
        "reps": reps,
        "reps_with_fault": faulty,
        "rate": round(faulty / reps, 4) if reps else None,
    }


def _rule_figures(rules: dict[str, RuleCounts]) -> Json:
    return {
        k: {
            "tp": c.tp,
            "fp": c.fp,
            "fn": c.fn,
            "precision": None if c.precision is None else round(c.precision, 4),
            "recall": None if c.recall is None else round(c.recall, 4),
        }
        for k, c in sorted(rules.items())
    }


def _rules_of(rows: list[Json]) -> dict[str, RuleCounts]:
    out: dict[str, RuleCounts] = {}
    for r in rows:
        for k, c in r.get("rules", {}).items():
            t = out.setdefault(k, RuleCounts())
            t.tp, t.fp, t.fn = t.tp + c["tp"], t.fp + c["fp"], t.fn + c["fn"]
    return out


def summarise(rows: list[Json], rules: dict[str, RuleCounts]) -> Json:
    counted = [r for r in rows if r["label_reps"] is not None]
    per_ex = {
        ex: _count_figures([r for r in counted if r["exercise"] == ex])
        for ex in sorted({r["exercise"] for r in counted})
    }
    seen_views = {r.get("camera_view", "unknown") for r in rows}
    per_view = {}
    for v in [*VIEWS, *sorted(seen_views - set(VIEWS))]:
        vr = [r for r in rows if r.get("camera_view", "unknown") == v]
        if vr:
            per_view[v] = {
                **_count_figures(vr),
                "false_fault": false_fault_rate(vr),
                "rules": _rule_figures(_rules_of(vr)),
            }
    return {
        "schema": SCHEMA,
        "overall": _count_figures(counted),
        "false_fault": false_fault_rate(rows),
        "per_exercise": per_ex,
        "per_view": per_view,
        "rules": _rule_figures(rules),
        "unscored_labels": dict(sorted(Counter(x for r in rows for x in r.get("unscored_labels", [])).items())),
        "videos": rows,
    }


def _f(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"


def render_eval(summary: Json) -> str:
    """The eval figures as terminal tables."""
    lines = [f"{'exercise':<26}{'videos':>7}{'exact':>8}{'MAE':>7}"]
    for ex, d in summary["per_exercise"].items():
        lines.append(f"{ex:<26}{d['videos']:>7}{_f(d['exact_rate']):>8}{_f(d['mae']):>7}")
    o = summary["overall"]
    lines.append(f"{'overall':<26}{o['videos']:>7}{_f(o['exact_rate']):>8}{_f(o['mae']):>7}")
    lines.append("")
    lines.append(f"{'camera view':<26}{'videos':>7}{'exact':>8}{'MAE':>7}{'clean reps':>12}{'false-fault':>13}")
    for v, d in summary.get("per_view", {}).items():
        ff = d["false_fault"]
        lines.append(
            f"{v:<26}{d['videos']:>7}{_f(d['exact_rate']):>8}{_f(d['mae']):>7}{ff['reps']:>12}{_f(ff['rate']):>13}"
        )
    ff = summary.get("false_fault")
    if ff is not None:
        lines.append(
            f"{'all views':<26}{o['videos']:>7}{_f(o['exact_rate']):>8}{_f(o['mae']):>7}{ff['reps']:>12}"
            f"{_f(ff['rate']):>13}"
        )
        lines.append(
            f"false-fault rate on clean clips: {ff['reps_with_fault']} of {ff['reps']} counted reps on "
            f"{ff['clean_videos']} clips whose label lists no fault = {_f(ff['rate'])}"
        )
    lines.append("")
    lines.append(f"{'rule':<26}{'TP':>4}{'FP':>4}{'FN':>4}{'precision':>11}{'recall':>8}")
    for rule, d in summary["rules"].items():
        lines.append(f"{rule:<26}{d['tp']:>4}{d['fp']:>4}{d['fn']:>4}{_f(d['precision']):>11}{_f(d['recall']):>8}")
    for v, d in summary.get("per_view", {}).items():
        if d["rules"]:
            cells = ", ".join(f"{k} {c['tp']}/{c['fp']}/{c['fn']}" for k, c in d["rules"].items())
            lines.append(f"  {v} (TP/FP/FN): {cells}")
    if summary.get("unscored_labels"):
        cells = ", ".join(f"{k} x{n}" for k, n in summary["unscored_labels"].items())
        lines.append(f"  labelled but not scored (advisory or not judged for that exercise): {cells}")
    lines.append("")
    bad = [r for r in summary["videos"] if r.get("error")]
    for r in bad:
        lines.append(f"count off by {r['error']:+d}: {r['file']} (label {r['label_reps']}, got {r['reps']})")
    return "\n".join(lines)


# ---- both paths side by side (formcheck eval --path both): the upload and the live coach on the same clips
PATHS = ("upload", "live")


def run_paths(
    manifest: str | Path,
    analysers: dict[str, Analyser],
    *,
    landmarks_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    side: str = "labelled",
) -> Json:
    """Every path of `analysers` over the manifest, scored with `side` (the main figures; "labelled": the working
    side as labelled) and with the other choice (`side_other`), plus how often the paths agree on a clip's count."""
    cache: dict[Path, PoseSeq] = {}

    def load(video: Path) -> PoseSeq:
        if video not in cache:
            cache[video] = load_seq(video, landmarks_dir, None)
        return cache[video]

    other = "auto" if side == "labelled" else "labelled"
    out: Json = {"schema": SCHEMA_PATHS, "side": side, "paths": {}, "side_other": {}}
    for name, analyse in analysers.items():
        out["paths"][name] = run_eval(manifest, load=load, progress=progress, analyse=analyse, side=side)
        alt = run_eval(manifest, load=load, analyse=analyse, side=other)
        out["side_other"][name] = {"side": other, "overall": alt["overall"], "false_fault": alt["false_fault"]}
    if len(analysers) == 2:
        out["agreement"] = path_agreement(*(out["paths"][n]["videos"] for n in analysers))
    return out


SCHEMA_PATHS = "formcheck.eval-paths/1"


def path_agreement(rows_a: list[Json], rows_b: list[Json]) -> Json:
    """Share of clips where two paths count the same reps, and the same valid reps (holds: both or neither met)."""
    by_file = {r["file"]: r for r in rows_b}
    pairs = [(a, by_file[a["file"]]) for a in rows_a if a["file"] in by_file and a["label_reps"] is not None]
    same = [a["reps"] == b["reps"] for a, b in pairs]
    same_valid = [a["reps"] == b["reps"] and a["valid_reps"] == b["valid_reps"] for a, b in pairs]
    return {
        "videos": len(pairs),
        "same_count": _rate(same),
        "same_valid": _rate(same_valid),
        "differ": [a["file"] for (a, b), s in zip(pairs, same, strict=True) if not s],
    }


def _view_exact(view: str, s: Json) -> str:
    return _f(s["per_view"].get(view, {}).get("exact_rate"))


def render_paths(summary: Json) -> str:
    """The paths' figures side by side, then each path's full tables."""
    names = list(summary["paths"])
    rows = [("", *[f"{n:>16}" for n in names])]

    def line(label: str, get: Callable[[Json], str]) -> None:
        rows.append((label, *[f"{get(summary['paths'][n]):>16}" for n in names]))

    side, other = summary["side"], "auto" if summary["side"] == "labelled" else "labelled"
    line(f"exact count (side {side})", lambda s: _f(s["overall"]["exact_rate"]))
    rows.append(
        (
            f"exact count (side {other})",
            *[f"{_f(summary['side_other'][n]['overall']['exact_rate']):>16}" for n in names],
        )
    )
    line("count MAE", lambda s: _f(s["overall"]["mae"]))
    line("false-fault rate, clean", lambda s: _f(s["false_fault"]["rate"]))
    line("borderline reps (a cue)", lambda s: str(sum(r.get("borderline_reps", 0) for r in s["videos"])))
    for v in VIEWS:
        line(f"  exact, {v} view", functools.partial(_view_exact, v))
    lines = [f"{a:<30}{''.join(b)}" for a, *b in rows]
    ag = summary.get("agreement")
    if ag:
        lines.append(
            f"paths agree on the count: {_f(ag['same_count'])} of {ag['videos']} clips "
            f"(same valid reps too: {_f(ag['same_valid'])})"
        )
        lines += [f"  counts differ: {f}" for f in ag["differ"]]
    for n in names:
        lines += ["", f"== {n} path ==", render_eval(summary["paths"][n])]
    return "\n".join(lines)


# ---- how many real labelled faults back each rule (formcheck exercises says where fewer than MIN_REAL_FAULTS)
def labelled_support(manifest: str | Path) -> Json:
    """Per exercise and rule: the labelled reps of real clips that show that fault (uncertain labels left out),
    counted from a manifest. Written to core/exercises/labelled_faults.json; RULE_FAMILY members count under the
    rule their label names."""
    out: dict[str, dict[str, int]] = {}
    for entry in read_manifest(manifest):
        if entry.get("person_visible") is False:
            continue
        times = entry.get("rep_times") or []
        if not times:
            continue
        want, _, _ = _labelled_rules(entry, times)
        for rules in want:
            for rule in rules:
                ex = out.setdefault(entry["exercise"], {})
                ex[rule] = ex.get(rule, 0) + 1
    return {ex: dict(sorted(r.items())) for ex, r in sorted(out.items())}
