// The readiness steps before the exercises: timed preparation steps, the Small Knee Bend Test (judged by the
// server: its verdict comes back in set_ended), and the 0-10 pain scale coloured by the server's zones.
import { $, S, cfg, el, text } from "./state.js";
import { showFlowError } from "./hud.js";
import { speak } from "./speech.js";
import { endSet, startSet } from "./sets.js";
import { stopCamera } from "./camera.js";
import { actions, button, setStepCard } from "./steps.js";

// A step timer (massage, VMO): start/pause, counts down the programme's minutes, says when time is up.
function stepTimer(minutes) {
  let left = Math.round(minutes * 60), timer = null;
  const fmt = () => `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  const shown = el("div", { class: "rest-timer", "data-testid": "step-timer", role: "timer", "aria-live": "off" }, fmt());
  const btn = button("Start timer", () => {
    if (timer) { clearInterval(timer); timer = null; btn.textContent = "Resume timer"; return; }
    btn.textContent = "Pause timer";
    timer = setInterval(() => {
      left = Math.max(0, left - 1); shown.textContent = fmt();
      if (left === 0) { clearInterval(timer); timer = null; btn.textContent = "Time is up"; speak(text("time_up"), true); }
    }, 1000);
  }, "secondary", "timer-toggle");
  S.stopStepTimer = () => { if (timer) clearInterval(timer); timer = null; };
  return { shown, btn };
}

export function painZone(n) {
  const band = cfg.painZones.find((b) => b.min <= n && n <= b.max);
  return band ? band.zone : "";
}

export function painScale(onChoose) {
  const box = $("pain-scale");
  S.painChoice = null;
  const lo = cfg.painZones.length ? cfg.painZones[0].min : 0, hi = cfg.painZones.length ? cfg.painZones[cfg.painZones.length - 1].max : 10;
  const btns = [];
  for (let n = lo; n <= hi; n++) {
    btns.push(el("button", { type: "button", "data-zone": painZone(n), "data-testid": `pain-${n}`, onclick: (ev) => {
      S.painChoice = n;
      box.querySelectorAll("button").forEach((b) => b.classList.remove("chosen"));
      ev.currentTarget.classList.add("chosen");
      onChoose(n);
    } }, String(n)));
  }
  box.replaceChildren(...btns, el("div", { class: "pain-legend" }, el("span", {}, `${lo} no pain`), el("span", {}, `${hi} worst`)));
  box.classList.remove("hidden");
}

export function infoStep(st, i, goto) {
  setStepCard("Get ready", st.title, st.text);
  $("exercise-name").textContent = st.title; $("set-info").textContent = "Before you start";
  const t = stepTimer(st.minutes || 1);
  $("step-text").append(t.shown);
  actions(t.btn, button("Done — next", () => { S.readiness[st.id] = true; goto(i + 1); }, "", "step-next"));
}

// Judged live but not stored as a set: the readiness record keeps the test's verdict (the server's) and pain.
export function kneeBendStep(st, i, goto) {
  setStepCard("Get ready", st.title, st.text);
  startSet({ exercise: "small_knee_bend", target: st.target, preview: false, session_id: null, set_no: 1,
    name: st.title, info: `Face the camera · ${st.target} shallow bends` });
  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    const ended = await endSet();
    S.skbVerdict = (ended && ended.skbt_verdict) || null;
    setStepCard("Get ready", "Any knee pain during the test?", "Rate the pain you felt during the small knee bends, from 0 (none) to 10 (worst).");
    if (S.skbVerdict) $("step-text").append(el("br"), el("small", { "data-testid": "skb-verdict", "data-verdict": S.skbVerdict }, text(`skbt_${S.skbVerdict}`)));
    painScale((n) => sendReadiness(n, i, goto));
  };
  S.onSetDone = finish;
  actions(button("I've finished the bends", finish, "secondary", "skb-done"));
}

async function sendReadiness(pain, i, goto) {
  try {
    const res = await fc.api(`/api/live/sessions/${S.session_id}/readiness`, { method: "POST",
      json: { massage_done: Boolean(S.readiness.massage), vmo_done: Boolean(S.readiness.vmo), skbt_verdict: S.skbVerdict, skbt_pain: pain } });
    if (res.ready) { goto(i + 1); return; }
    if (res.status === "retry") {
      setStepCard("Small Knee Bend Test", res.title, res.message);
      actions(button("Redo the test", () => goto(i), "", "skb-redo"));
      return;
    }
    if (res.status === "incomplete") {
      setStepCard("Get ready", res.title, res.message);
      actions(button("Back to the first step", () => goto(0), "", "readiness-restart"));
      return;
    }
    setStepCard("Not today", res.title || "Your knee is not ready today", res.message || "");
    speak(res.title || "Not today", true);
    stopCamera("Camera off — rest your knee today.");
    actions(el("a", { class: "button", href: "/" }, "Back to today"));
  } catch (e) { showFlowError(e.message); }
}
