// formcheck browser pose: MediaPipe PoseLandmarker (tasks-vision WASM, served by the app) in a module Web Worker.
// The page posts {type:"init", bundleUrl, wasmUrl, modelUrl}, then {type:"frame", seq, t_ms, bitmap}; the worker
// answers {type:"ready", load_ms} / {type:"failed", message} and {type:"result", seq, t_ms, pose_ms, image, world}.
// Image landmarks are normalised to the frame (MediaPipe's own x, y, z, visibility, presence); world in metres.

let landmarker = null;
let lastTs = -1;

async function init(msg) {
  const t0 = performance.now();
  const { FilesetResolver, PoseLandmarker } = await import(msg.bundleUrl);
  const fileset = await FilesetResolver.forVisionTasks(msg.wasmUrl, true);   // ES-module WASM loader (workers)
  landmarker = await PoseLandmarker.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: msg.modelUrl, delegate: "CPU" },
    runningMode: "VIDEO", numPoses: 1,                                          // same as the server (pose.py)
    minPoseDetectionConfidence: 0.5, minPosePresenceConfidence: 0.5, minTrackingConfidence: 0.5,
  });
  return performance.now() - t0;
}

function round(v, nd) { const f = 10 ** nd; return Math.round(v * f) / f; }

function detect(msg) {
  const ts = Math.max(lastTs + 1, Math.round(msg.t_ms));   // VIDEO mode: timestamps must strictly increase
  lastTs = ts;
  const t0 = performance.now();
  const r = landmarker.detectForVideo(msg.bitmap, ts);
  const poseMs = performance.now() - t0;
  msg.bitmap.close();
  const lms = r.landmarks && r.landmarks[0];
  const world = r.worldLandmarks && r.worldLandmarks[0];
  return {
    type: "result", seq: msg.seq, t_ms: msg.t_ms, pose_ms: round(poseMs, 2),
    image: lms ? lms.map((p) => [round(p.x, 5), round(p.y, 5), round(p.z, 5),
      round(p.visibility ?? 0, 4), round(p.presence ?? 0, 4)]) : null,
    world: world ? world.map((p) => [round(p.x, 5), round(p.y, 5), round(p.z, 5)]) : null,
  };
}

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  try {
    if (msg.type === "init") {
      const loadMs = await init(msg);
      self.postMessage({ type: "ready", load_ms: round(loadMs, 1) });
    } else if (msg.type === "frame") {
      if (!landmarker) { if (msg.bitmap) msg.bitmap.close(); return; }
      self.postMessage(detect(msg));
    }
  } catch (err) {
    self.postMessage({ type: msg.type === "init" ? "failed" : "error", seq: msg.seq,
      message: String((err && err.message) || err) });
  }
};
