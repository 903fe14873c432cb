// formcheck live coach (an ES module; its parts are in /static/live/): webcam → WebSocket (one frame in flight)
// → overlay, rep counter, cues, the day's flow. The server decides; this page shows and speaks what it is told.
import { $, S, el, loadConfig, text } from "./live/state.js";
import { startCamera } from "./live/camera.js";
import { connect, sendJSON } from "./live/socket.js";
import { draw } from "./live/overlay.js";
import { showFlowError, showMessage } from "./live/hud.js";
import { speak } from "./live/speech.js";
import { endSet, startSet } from "./live/sets.js";
import { goto, startFlow } from "./live/flow.js";
import { actions, setStepCard } from "./live/steps.js";

const PAIN_TO_QUESTIONS_MS = 1500;   // "My knee hurts": the coach's stop is heard before the pain questions

function saveSetting(patch) { fc.api("/api/me/settings", { method: "PUT", json: patch }).catch((e) => showFlowError(e.message)); }

// Voice on/off and rate are remembered per person on the server (settings API), like clip saving.
function wireSpeech() {
  $("speech-toggle").addEventListener("change", (e) => {
    S.speech = e.target.checked;
    if (!S.speech && "speechSynthesis" in window) window.speechSynthesis.cancel();
    saveSetting({ voice_on: S.speech });
  });
  $("speech-rate").addEventListener("change", (e) => { S.speechRate = parseFloat(e.target.value) || 1; saveSetting({ speech_rate: S.speechRate }); });
  fc.api("/api/me/settings").then((st) => {
    S.speech = st.voice_on !== false; $("speech-toggle").checked = S.speech;
    S.speechRate = st.speech_rate || 1; $("speech-rate").value = String(S.speechRate);
  }).catch(() => {});
}

// Clips of flagged reps are stored only when the person switches this on (off by default).
function wireClips() {
  const clips = $("clips-toggle");
  fc.api("/api/live/settings").then((st) => { clips.checked = Boolean(st.store_flagged_clips); }).catch(() => {});
  clips.addEventListener("change", async () => {
    try {
      const st = await fc.api("/api/live/settings", { method: "PUT", json: { store_flagged_clips: clips.checked } });
      clips.checked = Boolean(st.store_flagged_clips);
      sendJSON({ type: "reload_settings" });   // the server re-reads it for this connection
    } catch (e) { clips.checked = !clips.checked; showFlowError(e.message); }
  });
}

// "My knee hurts": the server's coach says stop and counts nothing more; then the day's pain questions, or in a
// practice set (nothing saved) the set simply ends.
function painStop() {
  sendJSON({ type: "pain" });
  S.stoppedForPain = true;
  S.painStopStep = S.stepIndex;
  speak(text("pain_stop_spoken"), true);
  if (!S.session_id) {
    endSet();
    showMessage("safety", text("pain_stop_spoken"));   // on the stage too: the card may be below it on a phone
    setStepCard("Practice", text("pain_stop_spoken"), "Practice stopped: nothing more is counted. Rest your knee; practice sets are not saved.");
    actions(el("a", { class: "button", href: "/" }, "Back to today"));
    return;
  }
  const j = S.steps.findIndex((x) => x.kind === "pain_end");
  setTimeout(() => { if (j >= 0) goto(j); }, PAIN_TO_QUESTIONS_MS);
}

function wire() {
  wireSpeech();
  wireClips();
  $("pain-stop").addEventListener("click", painStop);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("pain-stop").classList.contains("hidden")) { e.preventDefault(); painStop(); }
  });
  $("mirror-toggle").addEventListener("change", (e) => {
    S.mirrored = e.target.checked;
    $("stage").classList.toggle("mirrored", S.mirrored);
    if (S.lastReply) draw(S.lastReply);
  });
  $("stage").classList.toggle("mirrored", S.mirrored);
  window.addEventListener("resize", () => { if (S.lastReply) draw(S.lastReply); });
  S.hooks.onHello = () => { if (S.currentSet) startSet(S.currentSet); };
}

async function boot() {
  try { await fc.header("live"); } catch (e) { /* the page still works without the top bar */ }
  try {
    await loadConfig();
  } catch (e) {
    setStepCard("Live coach", "The live coach is not available", e.message);
    return;
  }
  wire();
  const ok = await startCamera();
  if (!ok) {
    setStepCard("Camera", "The live coach needs a camera", "You can still upload a recorded set for a full review.");
    actions(el("a", { class: "button", href: "/upload" }, "Upload a video instead"));
    $("exercise-name").textContent = "Live coach"; $("set-info").textContent = "No camera";
    return;
  }
  if (window.fcPose) await window.fcPose.ready;   // browser or server pose: decided before connecting
  connect();
  startFlow();
}

boot();
