// The exercise demonstration: a looping skeleton from the server (/api/exercise-demo), with its key points.
import { $, S, cfg, el } from "./state.js";
import { COLORS, line } from "./overlay.js";
import { renderGate } from "./hud.js";

const DEMO_PAD_PX = 14;
const demoCache = new Map();
let demoRaf = null;

export async function showDemo(exercise) {
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

// the figure's extent over all frames, so it stays put while it moves
function extent(frames) {
  let x0 = 1, y0 = 1, x1 = 0, y1 = 0;
  for (const fr of frames) for (const p of fr) if (p[0] !== null) { x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]); y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[1]); }
  return { x0, y0, x1, y1 };
}

function drawDemo(d, i) {
  const c = $("demo-canvas"), g = c.getContext("2d");
  const f = d.frames[i];
  g.clearRect(0, 0, c.width, c.height);
  if (!d.box) d.box = extent(d.frames);
  const a = d.aspect || 0.75, b = d.box, pad = DEMO_PAD_PX;
  const sx = (c.width - 2 * pad) / Math.max(1e-3, (b.x1 - b.x0) * a), sy = (c.height - 2 * pad) / Math.max(1e-3, b.y1 - b.y0);
  const k = Math.min(sx, sy);
  const ox = (c.width - (b.x1 - b.x0) * a * k) / 2, oy = (c.height - (b.y1 - b.y0) * k) / 2;
  const P = (j) => (f[j] && f[j][0] !== null ? [ox + (f[j][0] - b.x0) * a * k, oy + (f[j][1] - b.y0) * k] : null);
  g.lineCap = "round"; g.lineWidth = 5;
  for (const [u, v] of cfg.edges) {
    const pu = P(u), pv = P(v);
    if (!pu || !pv) continue;
    const side = cfg.sides[u] === cfg.sides[v] ? cfg.sides[u] : null;
    g.strokeStyle = side === "left" ? COLORS.left : side === "right" ? COLORS.right : "#cbd5e1";
    line(g, pu, pv);
  }
  const head = P(cfg.LM.NOSE);
  if (head) { g.beginPath(); g.arc(head[0], head[1], 9, 0, Math.PI * 2); g.fillStyle = "#cbd5e1"; g.fill(); }
}
