// The overlay on the camera image: skeleton (the server's landmark table), fault highlights, reference lines
// and key angles. Everything drawn comes from the frame reply: the view, the faults, the lines.
import { $, S, cfg } from "./state.js";

export const COLORS = { bone: "rgba(94, 234, 212, .95)", joint: "#ffffff", fault: "#fb923c", faultGlow: "rgba(251, 146, 60, .35)",
  left: "#5eead4", right: "#a5b4fc", line: "rgba(250, 204, 21, .95)", lineOk: "rgba(74, 222, 128, .95)" };
const SIDE_LINE_ABOVE_KNEE = 0.25;   // the knee-over-toe line runs this far above the knee (of toe-to-knee height)
const FRONT_LINE_ABOVE_KNEE = 0.15;
const HIP_LINE_EXTEND = 0.9;         // the hip-level line extends this far beyond each hip (of the hip width)

export function line(g, a, b) { g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]); g.stroke(); }
function roundRect(g, x, y, w, h, r) {
  g.beginPath(); g.moveTo(x + r, y); g.arcTo(x + w, y, x + w, y + h, r); g.arcTo(x + w, y + h, x, y + h, r);
  g.arcTo(x, y + h, x, y, r); g.arcTo(x, y, x + w, y, r); g.closePath(); g.fill();
}

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

// Where the video is drawn inside the stage (object-fit: contain), then where the camera image sits in the
// 640x480 frame that was sent (letterbox): normalised frame coordinates → stage px.
function stageMapper(W, H) {
  const video = $("video");
  const va = (video.videoWidth || 4) / (video.videoHeight || 3);
  let vw = W, vh = W / va;
  if (vh > H) { vh = H; vw = H * va; }
  const vx = (W - vw) / 2, vy = (H - vh) / 2;
  const cr = S.captureRect || { x: 0, y: 0, w: 1, h: 1 };
  return (nx, ny) => {
    let x = (nx - cr.x) / cr.w;
    const y = (ny - cr.y) / cr.h;
    if (S.mirrored) x = 1 - x;
    return [vx + x * vw, vy + y * vh];
  };
}

export function draw(msg) {
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
  S.toStage = stageMapper(W, H);
  const P = (i) => {
    const p = lms[i];
    if (!p || p[0] === null || p[1] === null || p[2] < cfg.visibilityMin) return null;
    return S.toStage(p[0], p[1]);
  };
  const faults = faultSets(msg.overlay);
  const lw = Math.max(3, W / 220);
  drawReferenceLines(g, P, lw, msg, faults.joints);   // under the skeleton
  drawSkeleton(g, P, lw, faults);
  drawAngles(g, P, lw, W, msg, faults.joints);
}

function drawSkeleton(g, P, lw, { joints, segs }) {
  for (const [a, b] of cfg.edges) {
    const pa = P(a), pb = P(b);
    if (!pa || !pb) continue;
    const bad = segs.has(`${a}-${b}`);
    if (bad) { g.strokeStyle = COLORS.faultGlow; g.lineWidth = lw * 4; line(g, pa, pb); }
    g.strokeStyle = bad ? COLORS.fault : COLORS.bone;
    g.lineWidth = bad ? lw * 1.8 : lw;
    line(g, pa, pb);
  }
  for (const j of cfg.joints) {
    const p = P(j);
    if (!p) continue;
    const bad = joints.has(j);
    g.beginPath();
    g.arc(p[0], p[1], bad ? lw * 2.6 : lw * 1.5, 0, Math.PI * 2);
    g.fillStyle = bad ? COLORS.fault : COLORS.joint;
    g.fill();
    if (bad) { g.lineWidth = lw; g.strokeStyle = "#fff"; g.stroke(); }
  }
}

// The analysis' own angle (3D where it has it) is what the rules judge; 2D joint angles only without it.
function drawAngles(g, P, lw, W, msg, faultJoints) {
  g.font = `700 ${Math.max(16, W / 45)}px system-ui, sans-serif`;
  g.textBaseline = "middle";
  const labels = [];
  for (const a of (msg.overlay && msg.overlay.angles) || []) {
    if (a.value === null || a.value === undefined) continue;
    labels.push({ at: a.landmark, text: `${a.label} ${Math.round(a.value)}${a.unit === "deg" ? "°" : " " + a.unit}` });
  }
  if (!labels.length) for (const a of msg.angles || []) labels.push({ at: a.at, text: `${a.label} ${a.flexion_deg}°` });
  for (const a of labels) {
    const p = P(a.at);
    if (!p) continue;
    const bad = faultJoints.has(a.at);
    const tw = g.measureText(a.text).width;
    const away = (cfg.sides[a.at] === "left") !== S.mirrored ? 1 : -1;   // label away from the body's midline
    const x = away > 0 ? p[0] + lw * 4 : p[0] - lw * 4 - tw - 12;
    g.fillStyle = bad ? "rgba(154, 52, 18, .9)" : "rgba(8, 15, 20, .72)";
    roundRect(g, x, p[1] - 16, tw + 12, 32, 8);
    g.fillStyle = "#fff";
    g.fillText(a.text, x + 6, p[1]);
  }
}

// The analysis' own reference lines (image px of the frame sent), else lines from the landmarks.
function drawReferenceLines(g, P, lw, msg, faults) {
  const LM = cfg.LM;
  const hipBad = faults.has(LM.LEFT_HIP) || faults.has(LM.RIGHT_HIP);
  const lines = msg.overlay && Array.isArray(msg.overlay.lines) ? msg.overlay.lines : [];
  g.save(); g.setLineDash([lw * 3, lw * 2]); g.lineWidth = lw;
  if (lines.length && msg.wh) {
    const kneeBad = faults.has(LM.LEFT_KNEE) || faults.has(LM.RIGHT_KNEE);
    for (const ln of lines) {
      const a = S.toStage(ln.x0 / msg.wh[0], ln.y0 / msg.wh[1]), b = S.toStage(ln.x1 / msg.wh[0], ln.y1 / msg.wh[1]);
      const bad = ln.kind === "hip_level" ? hipBad : kneeBad;
      g.strokeStyle = bad ? COLORS.fault : ln.kind === "hip_level" ? COLORS.line : COLORS.lineOk;
      line(g, a, b);
    }
  } else {
    drawFallbackLines(g, P, msg.view === "side", hipBad, faults);   // the view is the server's analysis
  }
  g.restore();
}

function drawFallbackLines(g, P, sideView, hipBad, faults) {
  const LM = cfg.LM;
  const lh = P(LM.LEFT_HIP), rh = P(LM.RIGHT_HIP);
  if (lh && rh && !sideView) {
    // hip-level line through both hips, extended, with a horizontal reference
    const dx = rh[0] - lh[0], dy = rh[1] - lh[1], n = Math.hypot(dx, dy) || 1, ext = n * HIP_LINE_EXTEND;
    g.strokeStyle = hipBad ? COLORS.fault : COLORS.line;
    line(g, [lh[0] - (dx / n) * ext, lh[1] - (dy / n) * ext], [rh[0] + (dx / n) * ext, rh[1] + (dy / n) * ext]);
    g.strokeStyle = "rgba(255,255,255,.35)";
    const my = (lh[1] + rh[1]) / 2;
    line(g, [Math.min(lh[0], rh[0]) - ext, my], [Math.max(lh[0], rh[0]) + ext, my]);
  }
  // knee-over-toe: a vertical line up from the toes of each visible leg
  const above = sideView ? SIDE_LINE_ABOVE_KNEE : FRONT_LINE_ABOVE_KNEE;
  for (const [knee, toe] of [[LM.LEFT_KNEE, LM.LEFT_FOOT_INDEX], [LM.RIGHT_KNEE, LM.RIGHT_FOOT_INDEX]]) {
    const pk = P(knee), pt = P(toe);
    if (!pk || !pt) continue;
    g.strokeStyle = faults.has(knee) ? COLORS.fault : COLORS.lineOk;
    line(g, [pt[0], pt[1]], [pt[0], pk[1] - (pt[1] - pk[1]) * above]);
  }
}
