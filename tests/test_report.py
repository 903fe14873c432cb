"""The JSON report ("formcheck.report/1") and the terminal table."""

from __future__ import annotations

import json

import numpy as np
from synthpose import Pose, to_seq
from test_analysis import squats

from formcheck.core.offline import analyze_seq
from formcheck.core.report import SCHEMA, Report, render_table, report_to_json


def test_report_json_carries_the_contract_fields() -> None:
    res = analyze_seq(to_seq(squats(3, valgus_on=(1,)), "front"), "squat")
    data = report_to_json(Report(result=res, video="clip.mp4", model_sha256="ab" * 32, frame_wh=(1280, 960)))
    json.dumps(data)  # plain JSON
    assert data["schema"] == SCHEMA == "formcheck.report/1"
    assert data["exercise"] == "squat" and data["view"] == "front" and data["model_sha256"] == "ab" * 32
    assert data["summary"]["reps"] == 3 and data["summary"]["valid_reps"] == 2
    assert data["summary"]["faults"]["knee_valgus"] == 1
    rep = data["reps"][1]
    assert set(rep) >= {"index", "start_s", "end_s", "side", "valid", "verdict", "why", "faults"}
    assert rep["index"] == 2 and rep["valid"] is False and rep["verdict"] == "invalid"
    fault = [f for f in rep["faults"] if f["rule"] == "knee_valgus"][0]
    assert set(fault) >= {"rule", "value", "threshold", "unit"} and fault["threshold"] == 0.1
    assert fault["value"] > 0.1 and fault["unit"] == "ratio"
    assert data["messages"] == []


def test_report_for_bad_input_has_messages_and_no_reps() -> None:
    empty = to_seq([Pose()] * 60, present=np.zeros(60, bool))
    data = report_to_json(analyze_seq(empty, "lunge"))
    assert data["reps"] == [] and data["summary"]["reps"] == 0
    assert data["messages"][0]["code"] == "no_person"
    text = render_table(analyze_seq(empty, "lunge"))
    assert "! No person found" in text and "reps: 0, valid: 0" in text


def test_table_lists_each_rep_and_its_faults() -> None:
    res = analyze_seq(to_seq(squats(2, valgus_on=(0,)), "front"), "squat")
    lines = render_table(res).splitlines()
    assert lines[0].startswith("Squat (squat)")
    rep_lines = [ln for ln in lines if ln.strip().startswith(("1 ", "2 "))]
    assert len(rep_lines) == 2 and "invalid" in rep_lines[0] and "valid" in rep_lines[1]
    assert any("knee_valgus:" in ln and "limit 0.1 ratio" in ln for ln in lines)
    assert lines[-1] == "reps: 2, valid: 1"


def test_hold_report() -> None:
    res = analyze_seq(to_seq([Pose()] * 30 + [Pose(pitch=80)] * 400, "side"), "plank")
    data = report_to_json(res)
    assert data["summary"]["hold"]["good_form_s"] > 12.0 and data["summary"]["hold"]["met"] is True
    assert "hold:" in render_table(res)


def test_live_feedback_json() -> None:
    from formcheck.core.live import LiveSession
    from formcheck.core.report import live_feedback_to_json

    s = LiveSession("squat")
    seq = to_seq(squats(2, valgus_on=(1,)), "front")
    out = [live_feedback_to_json(s.update(f)) for f in seq.frames()]
    json.dumps(out)
    reps = [o["new_rep"] for o in out if o["new_rep"]]
    assert [r["index"] for r in reps] == [1, 2] and reps[1]["verdict"] == "invalid"
    assert out[-1]["rep_count"] == 2 and out[-1]["valid_rep_count"] == 1
    flagged = [o for o in out if o["overlay"]["fault_landmarks"]]
    assert flagged and any(ln["kind"] == "knee_over_toe" for o in flagged for ln in o["overlay"]["lines"])
