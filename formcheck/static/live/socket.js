// The WebSocket (protocol: formcheck/webapp/live/protocol.py): one frame in flight, the next one goes only when
// the reply to this one has arrived (or timed out). JPEG frames, or landmark messages in browser-pose mode.
import { $, CAPTURE_H, CAPTURE_W, FLASH_MS, JPEG_QUALITY, MIN_FRAME_GAP_MS, RECONNECT_MS, REPLY_TIMEOUT_MS, S, pushSample, remember } from "./state.js";
import { cameraFailed } from "./camera.js";
import { hideFlash, onRep, renderCoach, renderCounter, renderGate, showFlowError } from "./hud.js";
import { draw } from "./overlay.js";
import { speak } from "./speech.js";

const FRAME_MAGIC = [0x46, 0x43, 0x46, 0x31];   // "FCF1", then uint32 seq and float64 capture ms (little-endian)
const FRAME_HEADER_BYTES = 16;
const STATUS_EVERY_REPLIES = 15;

const browserPose = () => window.fcPose && window.fcPose.mode === "browser";   // browser-pose.js

export function status(textContent) { $("status").textContent = textContent; }

export function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws/live${browserPose() ? "?pose=browser" : ""}`);
  ws.binaryType = "arraybuffer";
  S.ws = ws; S.wsReady = false; S.inFlight = false;
  status("connecting…");
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    onMessage(msg);
  };
  ws.onclose = (ev) => {
    S.wsReady = false; S.inFlight = false;
    if (S.cameraStopped) { status("camera off"); return; }
    if (ev.code === 1008 && /sign/i.test(ev.reason || "")) { status("not signed in"); return; }
    status(`reconnecting… (${ev.code})`);
    setTimeout(() => { if (S.ws === ws) connect(); }, RECONNECT_MS);
  };
  ws.onerror = () => status("connection problem");
}

export function sendJSON(obj) {
  if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(obj));
}

// The next set_ended (its summary, and the server's Small Knee Bend Test verdict), or null after a timeout.
export function nextSetEnded() {
  return new Promise((resolve) => {
    const waiter = { resolve };
    S.setEndedWaiters.push(waiter);
    setTimeout(() => { const i = S.setEndedWaiters.indexOf(waiter); if (i >= 0) { S.setEndedWaiters.splice(i, 1); resolve(null); } }, REPLY_TIMEOUT_MS);
  });
}

const ERROR_SHOWN = {
  store_failed: (m) => showFlowError(m.message),
  bad_exercise: (m) => showFlowError(m.message),
  not_signed_in: (m) => cameraFailed("Please sign in again.", m.message),
  model_unavailable: (m) => cameraFailed("The pose model is not available on the server.", m.message),
};

function onMessage(msg) {
  switch (msg.type) {
    case "hello":
      S.wsReady = true;
      status("connected");
      if (S.hooks.onHello) S.hooks.onHello();   // after a reconnect, resume the set (the server counts afresh)
      pump();
      break;
    case "frame": onFrame(msg); break;
    case "set_started":
      S.pendingSet = null; S.setDoneHandled = false;
      S.repCount = 0; S.validCount = 0;
      renderCounter();
      break;
    case "set_ended":
      if (msg.summary) S.setSummaries.push(msg.summary);
      S.setEndedWaiters.splice(0).forEach((w) => w.resolve(msg));
      break;
    case "error":
      S.errors.push(msg);
      if (msg.seq !== undefined) { S.inFlight = false; schedulePump(); }
      if (ERROR_SHOWN[msg.code]) ERROR_SHOWN[msg.code](msg);
      break;
    default: break;
  }
}

const capture = document.createElement("canvas");
capture.width = CAPTURE_W; capture.height = CAPTURE_H;
const cctx = capture.getContext("2d", { alpha: false });

function schedulePump() {
  const wait = Math.max(0, MIN_FRAME_GAP_MS - (performance.now() - S.lastSend));
  setTimeout(pump, wait);
}

// letterbox the camera image into 640x480 so its aspect ratio is kept
function captureFrame(video) {
  const vw = video.videoWidth || CAPTURE_W, vh = video.videoHeight || CAPTURE_H;
  const scale = Math.min(CAPTURE_W / vw, CAPTURE_H / vh);
  const dw = vw * scale, dh = vh * scale;
  cctx.fillStyle = "#808080"; cctx.fillRect(0, 0, CAPTURE_W, CAPTURE_H);
  cctx.drawImage(video, (CAPTURE_W - dw) / 2, (CAPTURE_H - dh) / 2, dw, dh);
  S.captureRect = { x: (CAPTURE_W - dw) / 2 / CAPTURE_W, y: (CAPTURE_H - dh) / 2 / CAPTURE_H, w: dw / CAPTURE_W, h: dh / CAPTURE_H };
}

function sent(seq, t) {
  remember(S.sentAt, seq, t);
  S.lastSend = t; S.frames++;
  setTimeout(() => { if (S.inFlight && S.seq === seq) { S.inFlight = false; pump(); } }, REPLY_TIMEOUT_MS);
}

export async function pump() {
  const video = $("video");
  if (!S.wsReady || S.inFlight || !S.stream || video.readyState < 2) return;
  if (S.ws.readyState !== WebSocket.OPEN) return;
  S.inFlight = true;
  const seq = (S.seq = (S.seq + 1) >>> 0);
  const t = performance.now();
  captureFrame(video);
  if (browserPose()) return pumpLandmarks(seq, t);
  const blob = await new Promise((res) => capture.toBlob(res, "image/jpeg", JPEG_QUALITY));
  if (!blob || !S.ws || S.ws.readyState !== WebSocket.OPEN) { S.inFlight = false; return; }
  const jpeg = new Uint8Array(await blob.arrayBuffer());
  const msg = new Uint8Array(FRAME_HEADER_BYTES + jpeg.length);
  const dv = new DataView(msg.buffer);
  msg.set(FRAME_MAGIC, 0);
  dv.setUint32(4, seq, true);
  dv.setFloat64(8, t, true);
  msg.set(jpeg, FRAME_HEADER_BYTES);
  S.ws.send(msg.buffer);
  const now = performance.now();
  if (S.lastReplyAt) pushSample(S.clientGaps, now - S.lastReplyAt);
  pushSample(S.encodeMs, now - t);
  sent(seq, t);
}

// Browser pose: the worker finds the landmarks on the same letterboxed 640x480 frame; only they are sent.
async function pumpLandmarks(seq, t) {
  let r;
  try { r = await window.fcPose.detect(capture, seq, t); } catch (e) { S.inFlight = false; schedulePump(); return; }
  if (!S.ws || S.ws.readyState !== WebSocket.OPEN) { S.inFlight = false; return; }
  remember(S.localLandmarks, seq, r.image);
  S.ws.send(JSON.stringify(window.fcPose.message(r, [CAPTURE_W, CAPTURE_H])));
  S.landmarkFrames++;
  sent(seq, t);
}

function onFrame(msg) {
  if (msg.pose_source === "browser" && !msg.landmarks) {   // the server does not echo the page's own landmarks
    const img = S.localLandmarks.get(msg.seq);
    msg.landmarks = img ? img.map((p) => [p[0], p[1], p[3]]) : null;
    S.localLandmarks.delete(msg.seq);
  }
  if (S.flashAt && performance.now() - S.flashAt > FLASH_MS) hideFlash();   // in case a timer was throttled
  S.inFlight = false;
  S.lastReplyAt = performance.now();
  S.replies++;
  const sentAt = S.sentAt.get(msg.seq);
  if (sentAt !== undefined) { pushSample(S.rtts, performance.now() - sentAt); S.sentAt.delete(msg.seq); }
  S.lastReply = msg;
  schedulePump();
  draw(msg);
  if (S.currentSet && !S.pendingSet) {
    S.repCount = msg.rep_count || 0;
    S.validCount = msg.valid_rep_count || 0;
    S.phase = msg.phase;
  }
  renderCounter();
  $("phase").textContent = S.currentSet && !S.currentSet.preview && msg.counting && msg.phase ? String(msg.phase).replace(/_/g, " ") : "";
  S.gate = msg.gate || null;
  renderGate();
  renderCoach(msg.coach);
  if (msg.cue && !S.cuesSeen.includes(msg.cue)) S.cuesSeen.push(msg.cue);
  if (msg.coach && msg.coach.speak) speak(msg.coach.speak, msg.coach.kind === "countdown" || msg.coach.kind === "safety");
  for (const rep of msg.new_reps || []) onRep(rep);
  if (msg.set_done && S.currentSet && !S.currentSet.preview && !S.setDoneHandled) {
    S.setDoneHandled = true;
    if (typeof S.onSetDone === "function") S.onSetDone();
  }
  if (S.rtts.length && S.replies % STATUS_EVERY_REPLIES === 0) {
    const sorted = [...S.rtts].sort((a, b) => a - b);
    const med = sorted[Math.floor(sorted.length / 2)];
    status(`${(1000 / Math.max(med, MIN_FRAME_GAP_MS)).toFixed(0)} fps · ${med.toFixed(0)} ms`);
  }
}
