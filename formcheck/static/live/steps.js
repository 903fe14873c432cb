// The day as a list of steps (readiness, each exercise's intro, sets and rests, pain, done) and the step card.
import { $, S, el, prettyExercise } from "./state.js";
import { clearFlowError } from "./hud.js";

export function actions(...buttons) { $("step-actions").replaceChildren(...buttons); }
export function button(label, onclick, cls = "", testid = null) { return el("button", { class: cls, onclick, "data-testid": testid }, label); }

export function setStepCard(kicker, title, body) {
  $("step-kicker").textContent = kicker;
  $("step-title").textContent = title;
  $("step-text").textContent = body || "";
  $("pain-scale").classList.add("hidden");
  $("step-actions").replaceChildren();
  clearFlowError();
}

export function doseText(ex) {
  const per = ex.hold_s ? `${ex.reps} × ${ex.hold_s} s hold` : `${ex.reps} reps`;
  return `${ex.sets} sets × ${per}${ex.sides === 2 ? " per leg" : ""}${ex.rest_s ? `, ${ex.rest_s} s rest` : ""}`;
}

function exerciseSteps(ex, i) {
  const steps = [];
  const name = ex.name || prettyExercise(ex.id);
  const sides = ex.sides === 2 ? ["left", "right"] : [ex.side || "auto"];
  steps.push({ kind: "intro", exercise: ex.id, exercise_index: i, name: ex.name, title: name, text: ex.instructions || "",
    dose: doseText(ex), view: ex.view });
  for (let s = 1; s <= ex.sets; s++) {
    for (const side of sides) {
      steps.push({ kind: "set", exercise: ex.id, exercise_index: i, name: ex.name, set_no: s, side, target: ex.reps, hold_s: ex.hold_s,
        sets: ex.sets, title: `${name} — set ${s} of ${ex.sets}${side !== "auto" ? ` (${side} leg)` : ""}` });
      const last = s === ex.sets && side === sides[sides.length - 1];
      if (!last && ex.rest_s > 0) steps.push({ kind: "rest", exercise_index: i, seconds: ex.rest_s, title: "Rest" });
    }
  }
  return steps;
}

export function buildSteps(plan) {
  const steps = [];
  for (const r of plan.readiness || []) {
    if (r.id === "small_knee_bend") steps.push({ kind: "skb", title: r.title, text: r.instructions, target: plan.skb_reps });
    else steps.push({ kind: "info", id: r.id, title: r.title, text: r.instructions, minutes: r.minutes });
  }
  (plan.exercises || []).forEach((ex, i) => steps.push(...exerciseSteps(ex, i)));
  steps.push({ kind: "pain_end", title: "How is your knee?" });
  steps.push({ kind: "done", title: "Session complete" });
  return steps;
}

const groupKey = (x) => (x.kind === "set" || x.kind === "intro" ? `ex${x.exercise_index}` : x.kind + (x.id || ""));

export function renderSteps() {
  const seen = new Set();
  const items = [];
  S.steps.forEach((st) => {
    if (st.kind === "rest" || st.kind === "done") return;
    const key = groupKey(st);
    if (seen.has(key)) return;
    seen.add(key);
    const group = S.steps.map((x, j) => [x, j]).filter(([x]) => groupKey(x) === key);
    const first = group[0][1], last = group[group.length - 1][1];
    const skipped = st.exercise_index !== undefined && S.skipped.has(st.exercise_index);
    // after "My knee hurts": what was not finished by then is marked stopped, never struck through as done
    const stopped = S.painStopStep !== undefined && S.painStopStep !== null && last >= S.painStopStep && st.kind !== "pain_end";
    const cls = skipped ? "skipped" : stopped ? "stopped" : S.stepIndex > last ? "done" : S.stepIndex >= first ? "current" : "";
    const label = (st.kind === "intro" ? `${st.title} · ${st.dose}` : st.title) + (skipped ? " (skipped)" : stopped ? " (stopped: knee pain)" : "");
    items.push(el("li", { class: cls }, label));
  });
  $("steps").replaceChildren(...items);
}
