// The day's flow: today's plan from the server, then one step after the other (readiness, sets, rests, pain,
// summary); or a practice set of any exercise (not saved).
import { $, S, el, prettyExercise, text } from "./state.js";
import { setCue, showFlowError } from "./hud.js";
import { speak } from "./speech.js";
import { endSet, startSet } from "./sets.js";
import { stopCamera } from "./camera.js";
import { infoStep, kneeBendStep, painScale } from "./readiness.js";
import { actions, button, buildSteps, renderSteps, setStepCard } from "./steps.js";

const STEPS = { info: infoStep, skb: kneeBendStep, intro: introStep, set: setStep, rest: restStep, pain_end: painEndStep, done: doneStep };

export async function goto(i) {
  S.stepIndex = i;
  renderSteps();
  const st = S.steps[i];
  if (!st) return;
  if (S.stopStepTimer) { S.stopStepTimer(); S.stopStepTimer = null; }
  if (S.currentSet && (st.kind === "info" || st.kind === "rest" || st.kind === "pain_end")) endSet();
  await STEPS[st.kind](st, i, goto);
}

function introStep(st, i) {
  setStepCard("Exercise", st.title, st.text);
  $("step-text").append(el("br"), el("strong", {}, st.dose));
  startSet({ exercise: st.exercise, preview: true, name: st.title, info: st.dose, side: "auto" });
  actions(button("Start set 1", () => goto(i + 1), "", "start-set"), skipButton(i));
}

function setStep(st, i) {
  setStepCard("Exercise", st.title, st.hold_s ? `Hold for ${st.hold_s} s, ${st.target} times.` : `${st.target} good reps. Only reps with good form count.`);
  startSet({ exercise: st.exercise, side: st.side, target: st.target, hold_s: st.hold_s, preview: false, session_id: S.session_id,
    exercise_index: st.exercise_index, set_no: st.set_no, name: st.name || prettyExercise(st.exercise),
    info: `Set ${st.set_no} of ${st.sets}${st.side !== "auto" ? ` · ${st.side} leg` : ""}` });
  S.onSetDone = () => { endSet(); speak(text("set_complete"), true); goto(i + 1); };
  actions(button("End set", () => S.onSetDone(), "secondary", "end-set"), skipButton(i));
}

function restStep(st, i) {
  setStepCard("Rest", text("rest"), "");
  let left = st.seconds;
  const t = el("div", { class: "rest-timer" }, `${left} s`);
  $("step-text").replaceChildren(t);
  const timer = setInterval(() => { left -= 1; t.textContent = `${Math.max(0, left)} s`; if (left <= 0) { clearInterval(timer); goto(i + 1); } }, 1000);
  actions(button("Skip rest", () => { clearInterval(timer); goto(i + 1); }, "secondary"));
  setCue("rest");
}

function painEndStep(st, i) {
  $("exercise-name").textContent = "Last step"; $("set-info").textContent = "Your knee after today's session";
  setStepCard("Finish", "Knee pain during the exercises?", "From 0 (none) to 10 (worst imaginable): the most you felt during today's exercises.");
  painScale((during) => {
    setStepCard("Finish", "And right now?", "Rate the knee pain you feel now, from 0 (none) to 10 (worst imaginable).");
    painScale(async (after) => {
      try {
        S.finalDecision = await fc.api(`/api/live/sessions/${S.session_id}/pain`, { method: "POST",
          json: { pain_during: during, pain_after: after } });
        goto(i + 1);
      } catch (e) { showFlowError(e.message); }
    });
  });
}

async function doneStep() {
  stopCamera();
  $("exercise-name").textContent = "Done for today"; $("set-info").textContent = "";
  setStepCard("Finish", "Session saved", (S.finalDecision && S.finalDecision.message) || "");
  setCue("session_complete");
  try {
    const sum = await fc.api(`/api/me/sessions/${S.session_id}/summary`);
    S.summary = sum;
    renderSummary(sum);
  } catch (e) { showFlowError(e.message); }
  actions(el("a", { class: "button", href: "/" }, "Back to today"), el("a", { class: "button secondary", href: "/progress" }, "See your progress"));
}

// The end of the day in numbers and plain words: never praise for pushing through pain (the server words it).
function renderSummary(sum) {
  if (sum.decision) $("step-title").textContent = sum.decision.headline;
  const rows = sum.exercises.map((x) => el("tr", {}, el("td", {}, x.name),
    el("td", { class: "num" }, `${x.valid_reps} / ${x.target_reps}`), el("td", { class: "num" }, String(x.total_reps - x.valid_reps))));
  const pain = (v) => (v === null || v === undefined ? "–" : `${v}/10`);
  $("step-text").replaceChildren(
    el("table", { class: "summary-table", "data-testid": "summary-table" },
      el("caption", { class: "visually-hidden" }, "Today's exercises"),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Exercise"), el("th", { scope: "col" }, "valid / target reps"), el("th", { scope: "col" }, "not counted"))),
      el("tbody", {}, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "3" }, "No sets today."))]))),
    el("p", { "data-testid": "summary-minutes" }, `Exercise time: ${sum.minutes_used.toFixed(1)} of ${sum.budget_min.toFixed(0)} minutes.`),
    el("p", { "data-testid": "summary-pain" }, `Knee pain — at the knee bend test: ${pain(sum.pain_before)}, during: ${pain(sum.pain_during)}, after: ${pain(sum.pain_after)}.`),
    sum.decision ? el("p", { "data-testid": "summary-decision" }, el("strong", {}, "What happens next: "), sum.decision.reason) : null);
}

// Skip the rest of this exercise (all its remaining sets and rests): e.g. it hurts, or no room for it today.
function skipButton(i) {
  const ex = S.steps[i].exercise_index;
  return button("Skip this exercise", () => {
    if (S.currentSet) endSet();
    S.skipped.add(ex);
    let j = i;
    while (j < S.steps.length && S.steps[j].exercise_index === ex && S.steps[j].kind !== "pain_end") j++;
    while (j < S.steps.length && S.steps[j].kind === "rest") j++;
    goto(j);
  }, "link", "skip-exercise");
}

export async function startFlow() {
  const ex = S.params.get("exercise");
  if (ex) return startPractice(ex);
  let plan;
  try {
    plan = await fc.api("/api/live/today");
  } catch (e) {
    setStepCard("Today", "Today's plan is not available", e.message);
    practicePicker();
    return;
  }
  S.plan = plan;
  if (plan.rest_day || !(plan.exercises || []).length) {
    setStepCard("Today", plan.title || "Rest day", plan.message || "No exercises today.");
    actions(el("a", { class: "button secondary", href: "/" }, "Back to today"));
    setCue("rest_day");
    stopCamera("Camera off — rest day. See you tomorrow.");
    return;
  }
  setStepCard("Today", `Level ${plan.level}${plan.level_name ? " — " + plan.level_name : ""}`, plan.message || plan.focus || "");
  S.steps = buildSteps(plan);
  renderSteps();
  actions(button("Start today's session", async () => {
    try {
      const s = await fc.api("/api/live/sessions", { method: "POST", json: {} });
      S.session_id = s.session_id;
      goto(0);
    } catch (e) { showFlowError(e.message); }
  }, "", "start-session"));
}

// A practice set of any exercise outside the programme (not saved), e.g. when today's plan is unavailable.
async function practicePicker() {
  let list = [];
  try { list = await fc.api("/api/live/exercises"); } catch (e) { return; }
  const sel = el("select", { id: "practice-exercise", "aria-label": "Exercise" },
    list.map((x) => el("option", { value: x.id }, x.name)));
  const go = button("Practise", () => { location.href = `/live?exercise=${encodeURIComponent(sel.value)}&target=10`; }, "secondary", "practise");
  $("step-actions").replaceChildren(sel, go);
}

function startPractice(exercise) {
  const target = parseInt(S.params.get("target") || "10", 10) || 10;
  const side = S.params.get("side") || "auto";
  S.steps = [{ kind: "set", exercise, exercise_index: 0, set_no: 1, sets: 1, side, target, title: `${prettyExercise(exercise)} — practice` }];
  renderSteps();
  setStepCard("Practice", `${prettyExercise(exercise)} — practice`, `${target} good reps. Practice sets are not saved.`);
  startSet({ exercise, side, target, preview: false, name: prettyExercise(exercise), info: `Practice · ${target} reps` });
  S.onSetDone = () => { speak(text("set_complete"), true); setCue("set_complete"); };
  actions(button("Restart", () => startSet(S.currentSet || { exercise, side, target }), "secondary", "restart-set"));
}
