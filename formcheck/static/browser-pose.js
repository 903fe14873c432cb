// formcheck browser pose: decides where pose runs for the live page and drives web/pose-worker.js.
// window.fcPose = { mode: "starting" | "browser" | "server", reason, ready (Promise of the mode), detect(canvas,
// seq, t_ms) → Promise<result>, message(result) → the socket's landmark message, poseMs [..], fallback(reason) }.
// Server pose is the fallback (?pose=browser keeps browser pose however slow): ?pose=server, the server's setting, no WebAssembly/worker, a model that does not
// load, or a device whose own pose is too slow. The page shows which one is in use (#pose-mode).
"use strict";

(() => {
  const INIT_TIMEOUT_MS = 45000;   // WASM (13 MB) + model (9 MB) from this server: ~1.3 s here, slow disks more
  const FRAME_TIMEOUT_MS = 5000;   // a frame without a result by then is given up
  const KEEP_TIMES = 300;

  const P = { mode: "starting", reason: null, poseMs: [], loadMs: null, config: null, worker: null,
    waiting: new Map(), ready: null, results: 0, forced: false };
  window.fcPose = P;

  function median(xs) { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : null; }

  function render() {
    const box = document.getElementById("pose-mode");
    if (!box) return;
    box.dataset.mode = P.mode;
    if (P.mode === "browser") {
      const med = median(P.poseMs.slice(-30));
      box.textContent = "Pose runs in this browser — no video leaves this device" +
        (med !== null ? ` · ${med.toFixed(0)} ms per frame` : "");
    } else if (P.mode === "server") {
      box.textContent = "Pose runs on the server" + (P.reason ? ` (${P.reason})` : "");
    } else {
      box.textContent = "Loading the pose model…";
    }
  }

  function use(mode, reason) {
    P.mode = mode; P.reason = reason || null;
    render();
    return mode;
  }

  P.fallback = (reason) => {
    if (P.worker) { P.worker.terminate(); P.worker = null; }
    for (const [, w] of P.waiting) w.reject(new Error(reason));
    P.waiting.clear();
    use("server", reason);
  };

  function startWorker(cfg) {
    return new Promise((resolve, reject) => {
      let worker;
      try { worker = new Worker("/static/pose-worker.js", { type: "module" }); } catch (e) { reject(e); return; }
      const timer = setTimeout(() => reject(new Error("the pose model took too long to load")), INIT_TIMEOUT_MS);
      worker.onmessage = (ev) => {
        const m = ev.data || {};
        if (m.type === "ready") { clearTimeout(timer); P.loadMs = m.load_ms; resolve(worker); }
        else if (m.type === "failed") { clearTimeout(timer); reject(new Error(m.message)); }
        else if (m.type === "result" || m.type === "error") onResult(m);
      };
      worker.onerror = (ev) => { clearTimeout(timer); reject(new Error(ev.message || "the pose worker failed")); };
      worker.postMessage({ type: "init", bundleUrl: cfg.bundle_url, wasmUrl: cfg.wasm_url, modelUrl: cfg.model_url });
    });
  }

  function onResult(m) {
    const w = P.waiting.get(m.seq);
    if (!w) return;
    P.waiting.delete(m.seq);
    clearTimeout(w.timer);
    if (m.type === "error") { w.reject(new Error(m.message)); return; }
    P.results++;
    P.poseMs.push(m.pose_ms); if (P.poseMs.length > KEEP_TIMES) P.poseMs.shift();
    if (P.results % 15 === 0) render();
    const cfg = P.config;
    if (cfg && !P.forced && P.poseMs.length >= cfg.slow_window && median(P.poseMs.slice(-cfg.slow_window)) > cfg.slow_pose_ms) {
      w.resolve(m);
      P.fallback(`this device takes ${median(P.poseMs.slice(-cfg.slow_window)).toFixed(0)} ms per frame, too slow`);
      return;
    }
    w.resolve(m);
  }

  P.detect = async (canvas, seq, tMs) => {
    if (P.mode !== "browser" || !P.worker) throw new Error("browser pose is not running");
    const bitmap = await createImageBitmap(canvas);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { P.waiting.delete(seq); reject(new Error("pose timed out")); }, FRAME_TIMEOUT_MS);
      P.waiting.set(seq, { resolve, reject, timer });
      P.worker.postMessage({ type: "frame", seq, t_ms: tMs, bitmap }, [bitmap]);
    });
  };

  // The socket's landmark message (formcheck/webapp/live/landmark_msgs.py): the frame's size is the capture canvas's.
  P.message = (r, wh) => ({ type: "landmarks", seq: r.seq, t_ms: r.t_ms, wh, pose: Boolean(r.image),
    image: r.image, world: r.image ? r.world : null, pose_ms: r.pose_ms });

  P.ready = (async () => {
    render();
    const asked = new URLSearchParams(location.search).get("pose");
    if (asked === "server") return use("server", "chosen for this page");
    P.forced = asked === "browser";   // ?pose=browser: keep browser pose even on a slow device
    let stored = null;
    try { stored = localStorage.getItem("formcheck.media.pose"); } catch (e) { /* storage may be off */ }
    if (stored === "server" && asked !== "browser") return use("server", "chosen on this device");
    if (typeof WebAssembly !== "object" || typeof Worker !== "function" || typeof createImageBitmap !== "function") {
      return use("server", "this browser cannot run the pose model");
    }
    try {
      const r = await fetch("/api/live/pose-config", { credentials: "same-origin" });
      if (!r.ok) return use("server", `pose settings unavailable (${r.status})`);
      P.config = await r.json();
    } catch (e) { return use("server", "pose settings unavailable"); }
    if (!P.config.browser) return use("server", P.config.reason);
    try {
      P.worker = await startWorker(P.config);
    } catch (e) {
      if (P.worker) P.worker.terminate();
      P.worker = null;
      return use("server", `the pose model did not start in this browser: ${String(e.message || e).slice(0, 120)}`);
    }
    return use("browser");
  })();
})();
