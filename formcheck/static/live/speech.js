// Spoken cues (the browser's speech synthesis): urgent words interrupt, others wait their turn and never repeat
// too often. The words are the server's (coach.speak, the fixed texts).
import { CUE_REPEAT_SPEAK_MS, S, SPEAK_GAP_MS } from "./state.js";

export function speak(words, urgent) {
  if (!S.speech || !("speechSynthesis" in window) || !words) return;
  const now = performance.now();
  const last = S.lastSpoken.get(words);
  if (!urgent && last !== undefined && now - last < CUE_REPEAT_SPEAK_MS) return;
  if (!urgent && now - S.lastSpeakAt < SPEAK_GAP_MS) return;
  if (window.speechSynthesis.speaking && !urgent) return;
  S.lastSpoken.set(words, now); S.lastSpeakAt = now;
  try {
    if (urgent) window.speechSynthesis.cancel();
    const u = new SpeechSynthesisUtterance(words);
    u.rate = S.speechRate || 1.0; u.lang = document.documentElement.lang || "en";
    window.speechSynthesis.speak(u);
  } catch (e) { /* speech is a nicety */ }
}
