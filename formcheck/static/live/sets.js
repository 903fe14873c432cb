// Sets over the socket: start one (or a preview), end it and get the server's set_ended back.
import { $, S, prettyExercise } from "./state.js";
import { hideFlash, renderCounter, renderGate, setCue } from "./hud.js";
import { nextSetEnded, sendJSON } from "./socket.js";
import { showDemo } from "./demo.js";

export function startSet(set) {
  hideFlash();
  S.gate = null;
  S.currentSet = set; S.pendingSet = set; S.setDoneHandled = false;
  S.repCount = 0; S.validCount = 0; S.newReps = [];
  renderCounter();
  sendJSON({ type: "start_set", exercise: set.exercise, side: set.side || "auto", target_reps: set.target || null,
    hold_s: set.hold_s || null,
    session_id: set.session_id || null, set_no: set.set_no ?? null,
    preview: Boolean(set.preview) });
  $("exercise-name").textContent = set.name || prettyExercise(set.exercise);
  $("set-info").textContent = set.info || "";
  setCue(set.preview ? "get_into_position" : "get_into_start_position");
  showDemo(set.exercise);
  renderGate();
}

// Ends the current set; resolves with the server's set_ended (null when there was no set or no answer).
export function endSet() {
  const ended = S.currentSet ? nextSetEnded() : Promise.resolve(null);
  if (S.currentSet) sendJSON({ type: "end_set" });
  S.currentSet = null;
  S.demo = null; S.gate = null;
  $("demo").classList.add("hidden");
  $("pain-stop").classList.add("hidden");
  renderCounter();
  return ended;
}
