// The set's read-outs: rep counter, the ✓/✗ badge of a counted rep, the one coach message, the gate's state.
// Every verdict shown here is the server's (rep.valid, the coach message, the gate).
import { $, FLASH_MS, S, text } from "./state.js";

export function renderCounter() {
  const set = S.currentSet;
  const counting = set && !set.preview;
  const m = S.lastReply;
  if (counting && set.hold_s && m && m.hold_good_s !== undefined && m.hold_good_s !== null) {
    const target = Math.round(set.hold_s * (set.target || 1));
    $("rep-count").textContent = String(Math.floor(m.hold_good_s));
    $("rep-target").textContent = `${target}s`;
    $("attempts").textContent = "· seconds held in good form";
    $("counter").classList.toggle("done", m.hold_good_s >= target);
    return;
  }
  const waiting = counting && S.gate && S.gate.state !== "counting";
  $("counter").classList.toggle("waiting", Boolean(waiting));
  $("rep-count").textContent = counting ? String(S.validCount) : "0";
  $("rep-target").textContent = counting && set.target ? String(set.target) : "–";
  const invalid = counting ? S.repCount - S.validCount : 0;
  $("attempts").textContent = waiting ? "· counting starts after 3-2-1" : invalid > 0 ? `· ${invalid} not counted` : "";
  $("counter").classList.toggle("done", Boolean(counting && set.target && S.validCount >= set.target));
  $("counter").classList.toggle("idle", !counting);
}

let flashTimer = null;
// A counted rep: a small badge in the top corner (✓ 3 / ✗ 3), clear of the legs. The words come from the
// coach message, so the badge never competes with it.
export function onRep(rep) {
  if (!S.currentSet || S.currentSet.preview) return;
  S.newReps.push(rep);
  const box = $("flash"), counter = $("counter");
  box.className = "flash " + (rep.valid ? "valid" : "invalid");
  box.textContent = `${rep.valid ? "✓" : "✗"} ${rep.index ?? S.newReps.length}`;
  counter.classList.remove("bump-valid", "bump-invalid");
  void counter.offsetWidth;
  counter.classList.add(rep.valid ? "bump-valid" : "bump-invalid");
  S.flashAt = performance.now();
  clearTimeout(flashTimer);
  flashTimer = setTimeout(hideFlash, FLASH_MS);
}

export function hideFlash() {
  S.flashAt = null;
  $("flash").classList.add("hidden");
  $("counter").classList.remove("bump-valid", "bump-invalid");
}

// The one message on the stage. During a set the server's coach decides it (kind, text); outside a set the
// day's flow puts its own short line there (the server's fixed texts: "Rest", "Session complete").
export function showMessage(kind, line) {
  const c = $("coach");
  if (c.textContent === line && c.dataset.kind === kind) return;
  c.textContent = line;
  c.dataset.kind = kind;
  S.coachSeen.push({ at: performance.now(), kind, text: line, pose: S.lastReply ? Boolean(S.lastReply.pose) : null });
  if (S.coachSeen.length > 500) S.coachSeen.shift();
}
export function renderCoach(coach) { if (coach && coach.text) showMessage(coach.kind, coach.text); }
export function setCue(key) { showMessage("info", text(key)); }

export function renderGate() {
  const g = S.gate, set = S.currentSet;
  const waiting = Boolean(set && !set.preview && g && g.state !== "counting");
  $("pain-stop").classList.toggle("hidden", !(set && !set.preview));   // every counting set, practice too
  const demo = $("demo");
  if (set && !set.preview && g && g.state === "counting") demo.classList.add("hidden");
  else if (waiting && S.demo && S.demo.exercise === set.exercise) demo.classList.remove("hidden");
}

export function showFlowError(message) { const b = $("flow-error"); b.textContent = message; b.classList.remove("hidden"); }
export function clearFlowError() { $("flow-error").classList.add("hidden"); }
