// formcheck live coach: webcam → WebSocket (one frame in flight) → overlay, rep counter, cues, the day's flow.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = fc.el;

  // ---------------------------------------------------------------- constants (judgement calls, tuned for 2-3 m)
  const CAPTURE_W = 640, CAPTURE_H = 480;         // what the server expects (MediaPipe resizes anyway)
  const JPEG_QUALITY = 0.8;                        // ~20-40 kB per frame at 640x480 (docs/platform.md §2)
  const MIN_FRAME_GAP_MS = 33;                     // never more than ~30 frames/s
  const REPLY_TIMEOUT_MS = 4000;                   // a frame without a reply by then is given up
  const RECONNECT_MS = 2000;
  const CUE_REPEAT_SPEAK_MS = 8000;                // the same cue is spoken again only after this
  const SPEAK_GAP_MS = 2500;                       // at most one utterance per this gap
  const FLASH_MS = 1200;                           // the small ✓/✗ badge of a counted rep
  const LANDMARK_VIS_MIN = 0.5;                    // same cut-off as the server (types.VISIBILITY_MIN)
  const SIDE_VIEW_SHOULDER_RATIO = 0.35;           // shoulder width / torso length below this → side view

  // BlazePose landmark ids (formcheck.core.landmarks.Lm)
  const LM = { NOSE: 0, L_EYE: 2, R_EYE: 5, L_EAR: 7, R_EAR: 8, L_SHOULDER: 11, R_SHOULDER: 12, L_ELBOW: 13, R_ELBOW: 14,
    L_WRIST: 15, R_WRIST: 16, L_HIP: 23, R_HIP: 24, L_KNEE: 25, R_KNEE: 26, L_ANKLE: 27, R_ANKLE: 28, L_HEEL: 29,
    R_HEEL: 30, L_FOOT: 31, R_FOOT: 32 };
  const BONES = [[11, 12], [11, 13], [13, 15], [12, 14], [14, 16], [11, 23], [12, 24], [23, 24], [23, 25], [25, 27],
    [27, 29], [29, 31], [27, 31], [24, 26], [26, 28], [28, 30], [30, 32], [28, 32], [0, 2], [0, 5], [2, 7], [5, 8]];
  const JOINTS = [0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32];
  const COLORS = { bone: "rgba(94, 234, 212, .95)", joint: "#ffffff", fault: "#fb923c", faultGlow: "rgba(251, 146, 60, .35)",
    left: "#5eead4", right: "#a5b4fc", line: "rgba(250, 204, 21, .95)", lineOk: "rgba(74, 222, 128, .95)" };

  // ---------------------------------------------------------------- state (exposed for tests as window.fcLive)
  const S = {
    params: new URLSearchParams(location.search),
    ws: null, wsReady: false, inFlight: false, seq: 0, sentAt: new Map(), lastSend: 0,
    frames: 0, replies: 0, rtts: [], clientGaps: [], encodeMs: [], lastReplyAt: 0, errors: [], cuesSeen: [], newReps: [],
    repCount: 0, validCount: 0, target: null, phase: null, lastReply: null,
    stream: null, cameraError: null, mirrored: true,
    currentSet: null,          // {exercise, side, target, preview, session_id, exercise_index, set_no}
    pendingSet: null,          // sent start_set, waiting for set_started
    setDoneHandled: false,
    speech: true, lastSpoken: new Map(), lastSpeakAt: 0,
    coachSeen: [], gate: null, demo: null, speechRate: 1.0, skipped: new Set(),
    plan: null, session_id: null, steps: [], stepIndex: -1, painChoice: null, readiness: { massage: false, vmo: false },
    skbVerdict: null, setSummaries: [],
    localLandmarks: new Map(), landmarkFrames: 0,   // browser pose (web/browser-pose.js)
  };
  window.fcLive = S;

  // ---------------------------------------------------------------- camera
  async function startCamera() {
    const msg = $("stage-message"), txt = $("stage-message-text");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return cameraFailed("This browser cannot use a camera on this page.",
        "Open formcheck at http://127.0.0.1 (or over https) in a current Chrome, Edge or Firefox.");
    }
    try {
      S.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: CAPTURE_W }, height: { ideal: CAPTURE_H }, frameRate: { ideal: 30 } }, audio: false });
    } catch (err) {
      const name = err && err.name;
      if (name === "NotAllowedError" || name === "SecurityError") {
        return cameraFailed("Camera access was refused.",
          "Allow the camera for this site (the camera icon in the address bar), then reload the page.");
      }
      if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
        return cameraFailed("No camera was found.", "Plug in a webcam (or close other apps using it), then reload the page.");
      }
      if (name === "NotReadableError" || name === "AbortError") {
        return cameraFailed("The camera is busy.", "Close other apps or tabs that use the camera, then reload the page.");
      }
      return cameraFailed("The camera could not be started.", String((err && err.message) || err));
    }
    S.cameraStartedAt = performance.now();
    const video = $("video");
    video.srcObject = S.stream;
    await new Promise((res) => { if (video.readyState >= 2) res(); else video.onloadeddata = () => res(); });
    try { await video.play(); } catch (e) { /* autoplay of a muted stream is allowed */ }
    msg.classList.add("hidden");
    txt.textContent = "";
    const track = S.stream.getVideoTracks()[0];
    if (track) track.onended = () => cameraFailed("The camera was disconnected.", "Reconnect it, then reload the page.");
    return true;
  }

  function cameraFailed(title, detail) {
    S.cameraError = title;
    const msg = $("stage-message");
    msg.classList.remove("hidden");
    msg.classList.add("error");
    $("stage-message-text").replaceChildren(title, el("small", {}, detail));
    setCue("Camera needed");
    return false;
  }

  // ---------------------------------------------------------------- WebSocket
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const browserPose = window.fcPose && window.fcPose.mode === "browser";   // web/browser-pose.js (issue 12)
    const ws = new WebSocket(`${proto}//${location.host}/ws/live${browserPose ? "?pose=browser" : ""}`);
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

  function sendJSON(obj) {
    if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(obj));
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "hello":
        S.wsReady = true;
        status("connected");
        if (S.currentSet) startSet(S.currentSet);   // after a reconnect, resume the set (server counts afresh)
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
        break;
      case "error":
        S.errors.push(msg);
        if (msg.seq !== undefined) { S.inFlight = false; schedulePump(); }
        if (msg.code === "store_failed") showFlowError(msg.message);
        else if (msg.code === "bad_exercise") showFlowError(msg.message);
        else if (msg.code === "not_signed_in") cameraFailed("Please sign in again.", msg.message);
        else if (msg.code === "model_unavailable") cameraFailed("The pose model is not available on the server.", msg.message);
        break;
      case "pong": break;
      default: break;
    }
  }

  // One frame in flight: the next one goes only when the reply to this one has arrived (or timed out).
  const capture = document.createElement("canvas");
  capture.width = CAPTURE_W; capture.height = CAPTURE_H;
  const cctx = capture.getContext("2d", { alpha: false });

  function schedulePump() {
    const wait = Math.max(0, MIN_FRAME_GAP_MS - (performance.now() - S.lastSend));
    setTimeout(pump, wait);
  }

  async function pump() {
    const video = $("video");
    if (!S.wsReady || S.inFlight || !S.stream || video.readyState < 2) return;
    if (S.ws.readyState !== WebSocket.OPEN) return;
    S.inFlight = true;
    const seq = (S.seq = (S.seq + 1) >>> 0);
    const t = performance.now();
    // letterbox the camera image into 640x480 so aspect ratio is kept
    const vw = video.videoWidth || CAPTURE_W, vh = video.videoHeight || CAPTURE_H;
    const scale = Math.min(CAPTURE_W / vw, CAPTURE_H / vh);
    const dw = vw * scale, dh = vh * scale;
    cctx.fillStyle = "#808080"; cctx.fillRect(0, 0, CAPTURE_W, CAPTURE_H);
    cctx.drawImage(video, (CAPTURE_W - dw) / 2, (CAPTURE_H - dh) / 2, dw, dh);
    S.captureRect = { x: (CAPTURE_W - dw) / 2 / CAPTURE_W, y: (CAPTURE_H - dh) / 2 / CAPTURE_H, w: dw / CAPTURE_W, h: dh / CAPTURE_H };
    if (window.fcPose && window.fcPose.mode === "browser") return pumpLandmarks(seq, t);
    const blob = await new Promise((res) => capture.toBlob(res, "image/jpeg", JPEG_QUALITY));
    if (!blob || !S.ws || S.ws.readyState !== WebSocket.OPEN) { S.inFlight = false; return; }
    const jpeg = new Uint8Array(await blob.arrayBuffer());
    const msg = new Uint8Array(16 + jpeg.length);
    const dv = new DataView(msg.buffer);
    msg.set([0x46, 0x43, 0x46, 0x31], 0);          // "FCF1"
    dv.setUint32(4, seq, true);
    dv.setFloat64(8, t, true);
    msg.set(jpeg, 16);
    S.sentAt.set(seq, t);
    if (S.sentAt.size > 50) S.sentAt.delete(S.sentAt.keys().next().value);
    S.ws.send(msg.buffer);
    const now = performance.now();
    if (S.lastReplyAt) { S.clientGaps.push(now - S.lastReplyAt); if (S.clientGaps.length > 300) S.clientGaps.shift(); }
    S.encodeMs.push(now - t); if (S.encodeMs.length > 300) S.encodeMs.shift();
    S.lastSend = t; S.frames++;
    const mySeq = seq;
    setTimeout(() => { if (S.inFlight && S.seq === mySeq) { S.inFlight = false; pump(); } }, REPLY_TIMEOUT_MS);
  }

  // Browser pose: the worker finds the landmarks on the same letterboxed 640x480 frame; only they are sent.
  async function pumpLandmarks(seq, t) {
    let r;
    try { r = await window.fcPose.detect(capture, seq, t); } catch (e) { S.inFlight = false; schedulePump(); return; }
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) { S.inFlight = false; return; }
    S.localLandmarks.set(seq, r.image);
    if (S.localLandmarks.size > 50) S.localLandmarks.delete(S.localLandmarks.keys().next().value);
    S.ws.send(JSON.stringify(window.fcPose.message(r, [CAPTURE_W, CAPTURE_H])));
    S.sentAt.set(seq, t);
    if (S.sentAt.size > 50) S.sentAt.delete(S.sentAt.keys().next().value);
    S.lastSend = t; S.frames++; S.landmarkFrames++;
    const mySeq = seq;
    setTimeout(() => { if (S.inFlight && S.seq === mySeq) { S.inFlight = false; pump(); } }, REPLY_TIMEOUT_MS);
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
    const sent = S.sentAt.get(msg.seq);
    if (sent !== undefined) { S.rtts.push(performance.now() - sent); if (S.rtts.length > 300) S.rtts.shift(); S.sentAt.delete(msg.seq); }
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
      onSetDone();
    }
    if (S.rtts.length && S.replies % 15 === 0) {
      const sorted = [...S.rtts].sort((a, b) => a - b);
      const med = sorted[Math.floor(sorted.length / 2)];
      status(`${(1000 / Math.max(med, MIN_FRAME_GAP_MS)).toFixed(0)} fps · ${med.toFixed(0)} ms`);
    }
  }

  function status(text) { $("status").textContent = text; }

  // ---------------------------------------------------------------- overlay drawing
  function faultSets(overlay) {
    const joints = new Set(), segs = new Set();
    if (!overlay || typeof overlay !== "object") return { joints, segs };
    for (const key of ["fault_landmarks", "joints", "fault_joints", "highlight_joints"]) {
      const v = overlay[key];
      if (Array.isArray(v)) v.forEach((j) => { if (Number.isInteger(j)) joints.add(j); else if (j && Number.isInteger(j.id)) joints.add(j.id); });
    }
    for (const key of ["fault_segments", "segments", "highlight_segments"]) {
      const v = overlay[key];
      if (Array.isArray(v)) v.forEach((s) => { if (Array.isArray(s) && s.length >= 2) { segs.add(`${s[0]}-${s[1]}`); segs.add(`${s[1]}-${s[0]}`); joints.add(s[0]); joints.add(s[1]); } });
    }
    return { joints, segs };
  }

  function draw(msg) {
    const canvas = $("overlay"), stage = $("stage");
    const W = stage.clientWidth, H = stage.clientHeight, dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    }
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    const lms = msg.landmarks;
    if (!lms) return;
    // where the video is drawn inside the stage (object-fit: contain), then where the camera image sits in
    // the 640x480 frame that was sent (letterbox)
    const video = $("video");
    const va = (video.videoWidth || 4) / (video.videoHeight || 3);
    let vw = W, vh = W / va;
    if (vh > H) { vh = H; vw = H * va; }
    const vx = (W - vw) / 2, vy = (H - vh) / 2;
    const cr = S.captureRect || { x: 0, y: 0, w: 1, h: 1 };
    S.toStage = (nx, ny) => {
      let x = (nx - cr.x) / cr.w;
      const y = (ny - cr.y) / cr.h;
      if (S.mirrored) x = 1 - x;
      return [vx + x * vw, vy + y * vh];
    };
    const P = (i) => {
      const p = lms[i];
      if (!p || p[0] === null || p[1] === null || p[2] < LANDMARK_VIS_MIN) return null;
      return S.toStage(p[0], p[1]);
    };
    const { joints, segs } = faultSets(msg.overlay);
    const lw = Math.max(3, W / 220);

    // reference lines first (under the skeleton)
    drawReferenceLines(g, P, lms, lw, msg);

    for (const [a, b] of BONES) {
      const pa = P(a), pb = P(b);
      if (!pa || !pb) continue;
      const bad = segs.has(`${a}-${b}`);
      if (bad) { g.strokeStyle = COLORS.faultGlow; g.lineWidth = lw * 4; line(g, pa, pb); }
      g.strokeStyle = bad ? COLORS.fault : COLORS.bone;
      g.lineWidth = bad ? lw * 1.8 : lw;
      line(g, pa, pb);
    }
    for (const j of JOINTS) {
      const p = P(j);
      if (!p) continue;
      const bad = joints.has(j);
      g.beginPath();
      g.arc(p[0], p[1], bad ? lw * 2.6 : lw * 1.5, 0, Math.PI * 2);
      g.fillStyle = bad ? COLORS.fault : COLORS.joint;
      g.fill();
      if (bad) { g.lineWidth = lw; g.strokeStyle = "#fff"; g.stroke(); }
    }
    // key angles
    g.font = `700 ${Math.max(16, W / 45)}px system-ui, sans-serif`;
    g.textBaseline = "middle";
    const labels = [];
    for (const a of (msg.overlay && msg.overlay.angles) || []) {
      if (a.value === null || a.value === undefined) continue;
      labels.push({ at: a.landmark, text: `${a.label} ${Math.round(a.value)}${a.unit === "deg" ? "°" : " " + a.unit}` });
    }
    // the analysis' own angle (3D where it has it) is what the rules judge; 2D joint angles only without it
    if (!labels.length) for (const a of msg.angles || []) labels.push({ at: a.at, text: `${a.label} ${a.flexion_deg}°` });
    for (const a of labels) {
      const p = P(a.at);
      if (!p) continue;
      const text = a.text;
      const bad = joints.has(a.at);
      const tw = g.measureText(text).width;
      const side = (a.at % 2 === 1) !== S.mirrored ? 1 : -1;   // label away from the body's midline
      const x = side > 0 ? p[0] + lw * 4 : p[0] - lw * 4 - tw - 12;
      g.fillStyle = bad ? "rgba(154, 52, 18, .9)" : "rgba(8, 15, 20, .72)";
      roundRect(g, x, p[1] - 16, tw + 12, 32, 8);
      g.fillStyle = "#fff";
      g.fillText(text, x + 6, p[1]);
    }
  }

  // The analysis' own reference lines (image px of the frame sent), else lines from the landmarks.
  function drawReferenceLines(g, P, lms, lw, msg) {
    const lines = msg.overlay && Array.isArray(msg.overlay.lines) ? msg.overlay.lines : [];
    if (lines.length && msg.wh) {
      const faults = faultSets(msg.overlay).joints;
      g.save(); g.setLineDash([lw * 3, lw * 2]); g.lineWidth = lw;
      for (const ln of lines) {
        const a = S.toStage(ln.x0 / msg.wh[0], ln.y0 / msg.wh[1]), b = S.toStage(ln.x1 / msg.wh[0], ln.y1 / msg.wh[1]);
        const hipBad = faults.has(LM.L_HIP) || faults.has(LM.R_HIP), kneeBad = faults.has(LM.L_KNEE) || faults.has(LM.R_KNEE);
        const bad = ln.kind === "hip_level" ? hipBad : kneeBad;
        g.strokeStyle = bad ? COLORS.fault : ln.kind === "hip_level" ? COLORS.line : COLORS.lineOk;
        line(g, a, b);
      }
      g.restore();
      return;
    }
    drawFallbackLines(g, P, lw, msg);
  }

  function drawFallbackLines(g, P, lw, msg) {
    const ls = P(LM.L_SHOULDER), rs = P(LM.R_SHOULDER), lh = P(LM.L_HIP), rh = P(LM.R_HIP);
    let sideView = false;
    if (ls && rs && lh && rh) {
      const shoulderW = Math.hypot(ls[0] - rs[0], ls[1] - rs[1]);
      const torso = Math.hypot((ls[0] + rs[0]) / 2 - (lh[0] + rh[0]) / 2, (ls[1] + rs[1]) / 2 - (lh[1] + rh[1]) / 2);
      sideView = torso > 0 && shoulderW / torso < SIDE_VIEW_SHOULDER_RATIO;
    } else if ((ls || rs) && (lh || rh) && !(ls && rs)) {
      sideView = true;
    }
    const faults = faultSets(msg.overlay).joints;
    g.save();
    g.setLineDash([lw * 3, lw * 2]);
    g.lineWidth = lw;
    if (lh && rh && !sideView) {
      // hip-level line through both hips, extended, with a horizontal reference
      const dx = rh[0] - lh[0], dy = rh[1] - lh[1], n = Math.hypot(dx, dy) || 1, ext = n * 0.9;
      const bad = faults.has(LM.L_HIP) || faults.has(LM.R_HIP);
      g.strokeStyle = bad ? COLORS.fault : COLORS.line;
      line(g, [lh[0] - (dx / n) * ext, lh[1] - (dy / n) * ext], [rh[0] + (dx / n) * ext, rh[1] + (dy / n) * ext]);
      g.strokeStyle = "rgba(255,255,255,.35)";
      const my = (lh[1] + rh[1]) / 2;
      line(g, [Math.min(lh[0], rh[0]) - ext, my], [Math.max(lh[0], rh[0]) + ext, my]);
    }
    // knee-over-toe: a vertical line up from the toes of each visible leg (side view), or from the 2nd toe
    // through the knee's ideal path (front view)
    for (const [knee, toe] of [[LM.L_KNEE, LM.L_FOOT], [LM.R_KNEE, LM.R_FOOT]]) {
      const pk = P(knee), pt = P(toe);
      if (!pk || !pt) continue;
      const bad = faults.has(knee);
      g.strokeStyle = bad ? COLORS.fault : COLORS.lineOk;
      if (sideView) line(g, [pt[0], pt[1]], [pt[0], pk[1] - (pt[1] - pk[1]) * 0.25]);
      else line(g, [pt[0], pt[1]], [pt[0], pk[1] - (pt[1] - pk[1]) * 0.15]);
    }
    g.restore();
  }

  function line(g, a, b) { g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]); g.stroke(); }
  function roundRect(g, x, y, w, h, r) {
    g.beginPath(); g.moveTo(x + r, y); g.arcTo(x + w, y, x + w, y + h, r); g.arcTo(x + w, y + h, x, y + h, r);
    g.arcTo(x, y + h, x, y, r); g.arcTo(x, y, x + w, y, r); g.closePath(); g.fill();
  }

  // ---------------------------------------------------------------- counter, flash, cues, placement, speech
  function renderCounter() {
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
  function onRep(rep) {
    if (!S.currentSet || S.currentSet.preview) return;
    S.newReps.push(rep);
    const valid = repValid(rep);
    const box = $("flash"), counter = $("counter");
    box.className = "flash " + (valid === true ? "valid" : valid === false ? "invalid" : "unknown");
    const n = rep.index ?? S.newReps.length;
    box.textContent = `${valid === true ? "✓" : valid === false ? "✗" : "?"} ${n}`;
    counter.classList.remove("bump-valid", "bump-invalid");
    void counter.offsetWidth;
    counter.classList.add(valid === true ? "bump-valid" : "bump-invalid");
    S.flashAt = performance.now();
    clearTimeout(flashTimer);
    flashTimer = setTimeout(hideFlash, FLASH_MS);
  }

  function hideFlash() {
    S.flashAt = null;
    $("flash").classList.add("hidden");
    $("counter").classList.remove("bump-valid", "bump-invalid");
  }

  function repValid(rep) {
    if (typeof rep.valid === "boolean") return rep.valid;
    const v = String(rep.verdict || "").toLowerCase();
    if (v === "good" || v === "valid") return true;
    if (v === "flagged" || v === "invalid" || v === "bad") return false;
    return null;
  }

  function repReasons(rep) {
    const out = [];
    for (const f of rep.faults || []) if (f && f.cue) out.push(String(f.cue));
    if (typeof rep.why === "string" && rep.why) out.push(rep.why.replace(/^unknown\s*[—-]\s*/i, ""));
    if (typeof rep.reason === "string" && rep.reason) out.push(rep.reason);
    for (const key of ["reasons", "cues"]) if (Array.isArray(rep[key])) rep[key].forEach((r) => out.push(String(r)));
    for (const f of rep.faults || rep.findings || []) {
      if (typeof f === "string") out.push(f);
      else if (f && (f.cue || f.message || f.rule || f.rule_id)) out.push(String(f.cue || f.message || fc.fmt.rule(f.rule || f.rule_id)));
    }
    return out;
  }

  // The one message on the stage. During a set the server's coach decides it (kind, text); outside a set the
  // day's flow puts its own short line there ("Rest", "Session complete").
  function showMessage(kind, text) {
    const c = $("coach");
    if (c.textContent === text && c.dataset.kind === kind) return;
    c.textContent = text;
    c.dataset.kind = kind;
    S.coachSeen.push({ at: performance.now(), kind, text, pose: S.lastReply ? Boolean(S.lastReply.pose) : null });
    if (S.coachSeen.length > 500) S.coachSeen.shift();
  }
  function renderCoach(coach) { if (coach && coach.text) showMessage(coach.kind, coach.text); }
  function setCue(text) { showMessage("info", text); }

  function renderGate() {
    const g = S.gate, set = S.currentSet;
    const waiting = Boolean(set && !set.preview && g && g.state !== "counting");
    $("pain-stop").classList.toggle("hidden", !(set && !set.preview && S.session_id));
    const demo = $("demo");
    if (set && !set.preview && g && g.state === "counting") demo.classList.add("hidden");
    else if (waiting && S.demo && S.demo.exercise === set.exercise) demo.classList.remove("hidden");
  }

  function speak(text, urgent) {
    if (!S.speech || !("speechSynthesis" in window) || !text) return;
    const now = performance.now();
    const last = S.lastSpoken.get(text);
    if (!urgent && last !== undefined && now - last < CUE_REPEAT_SPEAK_MS) return;
    if (!urgent && now - S.lastSpeakAt < SPEAK_GAP_MS) return;
    if (window.speechSynthesis.speaking && !urgent) return;
    S.lastSpoken.set(text, now); S.lastSpeakAt = now;
    try {
      if (urgent) window.speechSynthesis.cancel();
      const u = new SpeechSynthesisUtterance(text);
      u.rate = S.speechRate || 1.0; u.lang = document.documentElement.lang || "en";
      window.speechSynthesis.speak(u);
    } catch (e) { /* speech is a nicety */ }
  }

  // ---------------------------------------------------------------- demonstration (skeleton from the server)
  const demoCache = new Map();
  let demoRaf = null;
  async function showDemo(exercise) {
    const box = $("demo");
    if (!exercise) { box.classList.add("hidden"); return; }
    let d = demoCache.get(exercise);
    if (!d) {
      try { d = await fc.api(`/api/exercise-demo?exercise=${encodeURIComponent(exercise)}`); } catch (e) { box.classList.add("hidden"); return; }
      demoCache.set(exercise, d);
    }
    if (!S.currentSet || S.currentSet.exercise !== exercise) return;
    S.demo = d;
    $("demo-points").replaceChildren(...(d.key_points || []).map((k) => el("li", {}, k)));
    $("demo-note").textContent = d.frames.length ? "" : "No animation for this exercise yet: follow the key points.";
    $("demo-canvas").classList.toggle("hidden", !d.frames.length);
    box.classList.remove("hidden");
    renderGate();
    cancelAnimationFrame(demoRaf);
    const t0 = performance.now();
    const tick = () => {
      if (S.demo !== d) return;
      if (!box.classList.contains("hidden") && d.frames.length) drawDemo(d, Math.floor((performance.now() - t0) / 1000 * d.fps) % d.frames.length);
      demoRaf = requestAnimationFrame(tick);
    };
    tick();
  }

  function drawDemo(d, i) {
    const c = $("demo-canvas"), g = c.getContext("2d");
    const f = d.frames[i];
    g.clearRect(0, 0, c.width, c.height);
    // fit the figure (all frames' extent) into the canvas
    if (!d.box) {
      let x0 = 1, y0 = 1, x1 = 0, y1 = 0;
      for (const fr of d.frames) for (const p of fr) if (p[0] !== null) { x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]); y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[1]); }
      d.box = { x0, y0, x1, y1 };
    }
    const a = d.aspect || 0.75, b = d.box, pad = 14;
    const sx = (c.width - 2 * pad) / Math.max(1e-3, (b.x1 - b.x0) * a), sy = (c.height - 2 * pad) / Math.max(1e-3, b.y1 - b.y0);
    const k = Math.min(sx, sy);
    const ox = (c.width - (b.x1 - b.x0) * a * k) / 2, oy = (c.height - (b.y1 - b.y0) * k) / 2;
    const P = (j) => (f[j] && f[j][0] !== null ? [ox + (f[j][0] - b.x0) * a * k, oy + (f[j][1] - b.y0) * k] : null);
    g.lineCap = "round"; g.lineWidth = 5;
    for (const [u, v] of BONES) {
      const pu = P(u), pv = P(v);
      if (!pu || !pv) continue;
      g.strokeStyle = (u % 2 === 1 && v % 2 === 1) ? COLORS.left : (u % 2 === 0 && v % 2 === 0 && u > 10) ? COLORS.right : "#cbd5e1";
      line(g, pu, pv);
    }
    const head = P(0);
    if (head) { g.beginPath(); g.arc(head[0], head[1], 9, 0, Math.PI * 2); g.fillStyle = "#cbd5e1"; g.fill(); }
  }

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
        if (left === 0) { clearInterval(timer); timer = null; btn.textContent = "Time is up"; speak("Time is up", true); }
      }, 1000);
    }, "secondary", "timer-toggle");
    S.stopStepTimer = () => { if (timer) clearInterval(timer); timer = null; };
    return { shown, btn };
  }

  // ---------------------------------------------------------------- sets over the socket
  function startSet(set) {
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
    setCue(set.preview ? "Get into position" : "Get into your start position");
    showDemo(set.exercise);
    renderGate();
  }

  function endSet() {
    if (S.currentSet) sendJSON({ type: "end_set" });
    S.currentSet = null;
    S.demo = null; S.gate = null;
    $("demo").classList.add("hidden");
    $("pain-stop").classList.add("hidden");
    renderCounter();
  }

  function prettyExercise(id) { const s = String(id || "").replace(/_/g, " "); return s.charAt(0).toUpperCase() + s.slice(1); }

  // ---------------------------------------------------------------- the day's flow
  function showFlowError(text) { const b = $("flow-error"); b.textContent = text; b.classList.remove("hidden"); }
  function clearFlowError() { $("flow-error").classList.add("hidden"); }

  function buildSteps(plan) {
    const steps = [];
    for (const r of plan.readiness || []) {
      if (r.id === "small_knee_bend") steps.push({ kind: "skb", title: r.title, text: r.instructions, target: plan.skb_reps || 5 });
      else steps.push({ kind: "info", id: r.id, title: r.title, text: r.instructions, minutes: r.minutes });
    }
    (plan.exercises || []).forEach((ex, i) => {
      const sides = ex.sides === 2 ? ["left", "right"] : [ex.side || "auto"];
      steps.push({ kind: "intro", exercise: ex.id, exercise_index: i, name: ex.name, title: ex.name || prettyExercise(ex.id), text: ex.instructions || "",
        dose: doseText(ex), view: ex.view });
      for (let s = 1; s <= ex.sets; s++) {
        for (const side of sides) {
          steps.push({ kind: "set", exercise: ex.id, exercise_index: i, name: ex.name, set_no: s, side, target: ex.reps, hold_s: ex.hold_s,
            sets: ex.sets, title: `${ex.name || prettyExercise(ex.id)} — set ${s} of ${ex.sets}${side !== "auto" ? ` (${side} leg)` : ""}` });
          const last = s === ex.sets && side === sides[sides.length - 1];
          if (!last && ex.rest_s > 0) steps.push({ kind: "rest", exercise_index: i, seconds: ex.rest_s, title: "Rest" });
        }
      }
    });
    steps.push({ kind: "pain_end", title: "How is your knee?" });
    steps.push({ kind: "done", title: "Session complete" });
    return steps;
  }

  function doseText(ex) {
    const per = ex.hold_s ? `${ex.reps} × ${ex.hold_s} s hold` : `${ex.reps} reps`;
    return `${ex.sets} sets × ${per}${ex.sides === 2 ? " per leg" : ""}${ex.rest_s ? `, ${ex.rest_s} s rest` : ""}`;
  }

  function renderSteps() {
    const list = $("steps");
    const seen = new Set();
    const items = [];
    S.steps.forEach((st, i) => {
      if (st.kind === "rest" || st.kind === "done") return;
      const key = st.kind === "set" || st.kind === "intro" ? `ex${st.exercise_index}` : st.kind + (st.id || "");
      if (seen.has(key)) return;
      seen.add(key);
      const group = S.steps.map((x, j) => [x, j]).filter(([x]) => (x.kind === "set" || x.kind === "intro" ? `ex${x.exercise_index}` : x.kind + (x.id || "")) === key);
      const first = group[0][1], last = group[group.length - 1][1];
      const skipped = st.exercise_index !== undefined && S.skipped.has(st.exercise_index);
      const cls = skipped ? "skipped" : S.stepIndex > last ? "done" : S.stepIndex >= first ? "current" : "";
      const label = (st.kind === "intro" ? `${st.title} · ${st.dose}` : st.title) + (skipped ? " (skipped)" : "");
      items.push(el("li", { class: cls }, label));
    });
    list.replaceChildren(...items);
  }

  function setStepCard(kicker, title, text) {
    $("step-kicker").textContent = kicker;
    $("step-title").textContent = title;
    $("step-text").textContent = text || "";
    $("pain-scale").classList.add("hidden");
    $("step-actions").replaceChildren();
    clearFlowError();
  }

  function actions(...buttons) { $("step-actions").replaceChildren(...buttons); }
  function button(label, onclick, cls = "", testid = null) { return el("button", { class: cls, onclick, "data-testid": testid }, label); }

  function painScale(onChoose) {
    const box = $("pain-scale");
    S.painChoice = null;
    const zone = (n) => (n <= 2 ? "green" : n <= 4 ? "amber" : "red");
    const btns = [];
    for (let n = 0; n <= 10; n++) {
      btns.push(el("button", { type: "button", "data-zone": zone(n), "data-testid": `pain-${n}`, onclick: (ev) => {
        S.painChoice = n;
        box.querySelectorAll("button").forEach((b) => b.classList.remove("chosen"));
        ev.currentTarget.classList.add("chosen");
        onChoose(n);
      } }, String(n)));
    }
    box.replaceChildren(...btns, el("div", { class: "pain-legend" }, el("span", {}, "0 no pain"), el("span", {}, "10 worst")));
    box.classList.remove("hidden");
  }

  async function goto(i) {
    S.stepIndex = i;
    renderSteps();
    const st = S.steps[i];
    if (!st) return;
    const kicker = st.kind === "info" || st.kind === "skb" ? "Get ready" : st.kind === "pain_end" || st.kind === "done" ? "Finish" : "Exercise";
    if (S.stopStepTimer) { S.stopStepTimer(); S.stopStepTimer = null; }
    if (st.kind === "info") {
      if (S.currentSet) endSet();
      setStepCard(kicker, st.title, st.text);
      $("exercise-name").textContent = st.title; $("set-info").textContent = "Before you start";
      const t = stepTimer(st.minutes || 1);
      $("step-text").append(t.shown);
      actions(t.btn, button("Done — next", () => { S.readiness[st.id] = true; goto(i + 1); }, "", "step-next"));
    } else if (st.kind === "skb") {
      setStepCard(kicker, st.title, st.text);
      // judged live but not stored as a set: the readiness record keeps the test's verdict and pain
      startSet({ exercise: "small_knee_bend", target: st.target, preview: false, session_id: null, set_no: 1,
        name: st.title, info: `Face the camera · ${st.target} shallow bends` });
      const finish = () => {
        const judged = S.newReps.filter((r) => repValid(r) !== null);
        S.skbVerdict = !judged.length ? "unknown" : judged.every((r) => repValid(r)) ? "valid" : "invalid";
        endSet();
        setStepCard(kicker, "Any knee pain during the test?", "Rate the pain you felt during the small knee bends, from 0 (none) to 10 (worst).");
        painScale(async (n) => {
          try {
            const res = await fc.api(`/api/live/sessions/${S.session_id}/readiness`, { method: "POST",
              json: { massage_done: Boolean(S.readiness.massage), vmo_done: Boolean(S.readiness.vmo), skbt_verdict: S.skbVerdict, skbt_pain: n } });
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
        });
      };
      S.onSetDone = finish;
      actions(button("I've finished the bends", finish, "secondary", "skb-done"));
    } else if (st.kind === "intro") {
      setStepCard(kicker, st.title, st.text);
      $("step-text").append(el("br"), el("strong", {}, st.dose));
      startSet({ exercise: st.exercise, preview: true, name: st.title, info: st.dose, side: "auto" });
      actions(button("Start set 1", () => goto(i + 1), "", "start-set"), skipButton(i));
    } else if (st.kind === "set") {
      setStepCard(kicker, st.title, st.hold_s ? `Hold for ${st.hold_s} s, ${st.target} times.` : `${st.target} good reps. Only reps with good form count.`);
      startSet({ exercise: st.exercise, side: st.side, target: st.target, hold_s: st.hold_s, preview: false, session_id: S.session_id,
        exercise_index: st.exercise_index, set_no: st.set_no, name: st.name || prettyExercise(st.exercise),
        info: `Set ${st.set_no} of ${st.sets}${st.side !== "auto" ? ` · ${st.side} leg` : ""}` });
      S.onSetDone = () => { endSet(); speak("Set complete", true); goto(i + 1); };
      actions(button("End set", () => S.onSetDone(), "secondary", "end-set"), skipButton(i));
    } else if (st.kind === "rest") {
      if (S.currentSet) endSet();
      setStepCard("Rest", "Rest", "");
      let left = st.seconds;
      const t = el("div", { class: "rest-timer" }, `${left} s`);
      $("step-text").replaceChildren(t);
      const timer = setInterval(() => { left -= 1; t.textContent = `${Math.max(0, left)} s`; if (left <= 0) { clearInterval(timer); goto(i + 1); } }, 1000);
      actions(button("Skip rest", () => { clearInterval(timer); goto(i + 1); }, "secondary"));
      setCue("Rest");
    } else if (st.kind === "pain_end") {
      if (S.currentSet) endSet();
      $("exercise-name").textContent = "Last step"; $("set-info").textContent = "Your knee after today's session";
      setStepCard(kicker, "Knee pain during the exercises?", "From 0 (none) to 10 (worst imaginable): the most you felt during today's exercises.");
      painScale((during) => {
        setStepCard(kicker, "And right now?", "Rate the knee pain you feel now, from 0 (none) to 10 (worst imaginable).");
        painScale(async (after) => {
          try {
            S.finalDecision = await fc.api(`/api/live/sessions/${S.session_id}/pain`, { method: "POST",
              json: { pain_during: during, pain_after: after } });
            goto(i + 1);
          } catch (e) { showFlowError(e.message); }
        });
      });
    } else if (st.kind === "done") {
      stopCamera();
      $("exercise-name").textContent = "Done for today"; $("set-info").textContent = "";
      setStepCard("Finish", "Session saved", (S.finalDecision && S.finalDecision.message) || "");
      setCue("Session complete — camera off");
      try {
        const sum = await fc.api(`/api/me/sessions/${S.session_id}/summary`);
        S.summary = sum;
        renderSummary(sum);
      } catch (e) { showFlowError(e.message); }
      actions(el("a", { class: "button", href: "/" }, "Back to today"), el("a", { class: "button secondary", href: "/progress" }, "See your progress"));
    }
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

  function stopCamera(note = "Camera off — today's session is saved.") {
    if (S.stream) S.stream.getTracks().forEach((t) => t.stop());
    S.stream = null;
    const ws = S.ws; S.ws = null; S.wsReady = false;
    if (ws) { try { ws.close(1000, "session done"); } catch (e) { /* already closed */ } }
    $("video").srcObject = null;
    $("stage-message").classList.remove("hidden", "error"); $("stage-message").classList.add("off");
    $("stage-message-text").replaceChildren(note);
    const c = $("overlay"); c.getContext("2d").clearRect(0, 0, c.width, c.height);
    S.cameraStopped = true;
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

  function onSetDone() { if (typeof S.onSetDone === "function") S.onSetDone(); }

  async function startFlow() {
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
      setCue("Rest day — no exercise today");
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
    S.onSetDone = () => { speak("Set complete", true); setCue("Set complete"); };
    actions(button("Restart", () => startSet(S.currentSet || { exercise, side, target }), "secondary", "restart-set"));
  }

  // ---------------------------------------------------------------- wiring
  // Voice on/off and rate are remembered per person on the server (settings API), like clip saving.
  $("speech-toggle").addEventListener("change", (e) => {
    S.speech = e.target.checked;
    if (!S.speech && "speechSynthesis" in window) window.speechSynthesis.cancel();
    saveSetting({ voice_on: S.speech });
  });
  $("speech-rate").addEventListener("change", (e) => { S.speechRate = parseFloat(e.target.value) || 1; saveSetting({ speech_rate: S.speechRate }); });
  function saveSetting(patch) { fc.api("/api/me/settings", { method: "PUT", json: patch }).catch((e) => showFlowError(e.message)); }
  fc.api("/api/me/settings").then((st) => {
    S.speech = st.voice_on !== false; $("speech-toggle").checked = S.speech;
    S.speechRate = st.speech_rate || 1; $("speech-rate").value = String(S.speechRate);
  }).catch(() => {});
  // "My knee hurts": the server's coach says stop and counts nothing more; then the pain questions.
  $("pain-stop").addEventListener("click", () => {
    sendJSON({ type: "pain" });
    S.stoppedForPain = true;
    speak("Stop. Rest your knee.", true);
    const j = S.steps.findIndex((x) => x.kind === "pain_end");
    setTimeout(() => { if (j >= 0) goto(j); }, 1500);
  });
  $("mirror-toggle").addEventListener("change", (e) => {
    S.mirrored = e.target.checked;
    $("stage").classList.toggle("mirrored", S.mirrored);
    if (S.lastReply) draw(S.lastReply);
  });
  $("stage").classList.toggle("mirrored", S.mirrored);
  // Clips of flagged reps are stored only when the person switches this on (off by default).
  const clips = $("clips-toggle");
  fc.api("/api/live/settings").then((st) => { clips.checked = Boolean(st.store_flagged_clips); }).catch(() => {});
  clips.addEventListener("change", async () => {
    try {
      const st = await fc.api("/api/live/settings", { method: "PUT", json: { store_flagged_clips: clips.checked } });
      clips.checked = Boolean(st.store_flagged_clips);
      sendJSON({ type: "reload_settings" });   // the server re-reads it for this connection
    } catch (e) { clips.checked = !clips.checked; showFlowError(e.message); }
  });
  window.addEventListener("resize", () => { if (S.lastReply) draw(S.lastReply); });

  (async () => {
    try { await fc.header("live"); } catch (e) { /* the page still works without the top bar */ }
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
  })();
})();
