// formcheck live coach: shared state (window.fcLive, read by the browser tests), tuning constants, and what the
/* global fc */
// server tells the page once (GET /api/live/page-config): the landmark table, pain zones and fixed texts.

export const $ = (id) => document.getElementById(id);
export const el = (...args) => fc.el(...args);

// judgement calls, tuned for a webcam at 2-3 m
export const CAPTURE_W = 640, CAPTURE_H = 480;   // what the server expects (MediaPipe resizes anyway)
export const JPEG_QUALITY = 0.8;                  // ~20-40 kB per frame at 640x480 (docs/platform.md §2)
export const MIN_FRAME_GAP_MS = 33;               // never more than ~30 frames/s
export const REPLY_TIMEOUT_MS = 4000;             // a frame (or set_ended) without a reply by then is given up
export const RECONNECT_MS = 2000;
export const CUE_REPEAT_SPEAK_MS = 8000;          // the same cue is spoken again only after this
export const SPEAK_GAP_MS = 2500;                 // at most one utterance per this gap
export const FLASH_MS = 1200;                     // the small ✓/✗ badge of a counted rep
export const KEEP_SAMPLES = 300;                  // timing samples kept for the status line and the tests
export const KEEP_PENDING = 50;                   // frames remembered while waiting for their replies

export const S = {
  params: new URLSearchParams(location.search),
  ws: null, wsReady: false, inFlight: false, seq: 0, sentAt: new Map(), lastSend: 0,
  frames: 0, replies: 0, rtts: [], clientGaps: [], encodeMs: [], lastReplyAt: 0, errors: [], cuesSeen: [], newReps: [],
  repCount: 0, validCount: 0, target: null, phase: null, lastReply: null,
  stream: null, cameraError: null, mirrored: true,
  currentSet: null,          // {exercise, side, target, preview, session_id, exercise_index, set_no}
  pendingSet: null,          // sent start_set, waiting for set_started
  setDoneHandled: false,
  setEndedWaiters: [],       // endSet() promises, resolved by the next set_ended
  speech: true, lastSpoken: new Map(), lastSpeakAt: 0,
  coachSeen: [], gate: null, demo: null, speechRate: 1.0, skipped: new Set(),
  plan: null, session_id: null, steps: [], stepIndex: -1, painChoice: null, readiness: { massage: false, vmo: false },
  skbVerdict: null, setSummaries: [], painStopStep: null,   // the step "My knee hurts" was pressed at
  localLandmarks: new Map(), landmarkFrames: 0,   // browser pose (browser-pose.js)
  hooks: { onHello: null },
};
window.fcLive = S;

// The server's definitions (formcheck.core.landmarks, formcheck.core.pain, the coach's texts).
export const cfg = { LM: {}, edges: [], joints: [], sides: [], visibilityMin: 0.5, painZones: [], texts: {} };

export async function loadConfig() {
  const c = await fc.api("/api/live/page-config");
  const t = c.landmarks;
  cfg.LM = Object.fromEntries(t.names.map((name, i) => [name, i]));
  cfg.edges = t.edges; cfg.joints = t.joints; cfg.sides = t.sides; cfg.visibilityMin = t.visibility_min;
  cfg.painZones = c.pain_zones; cfg.texts = c.texts;
  S.config = c;
  return c;
}

export function text(key) { return cfg.texts[key] ?? key; }

export function pushSample(list, v) { list.push(v); if (list.length > KEEP_SAMPLES) list.shift(); }

export function remember(map, key, value) {
  map.set(key, value);
  if (map.size > KEEP_PENDING) map.delete(map.keys().next().value);
}

export function prettyExercise(id) { const s = String(id || "").replace(/_/g, " "); return s.charAt(0).toUpperCase() + s.slice(1); }
