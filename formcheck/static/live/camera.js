// The webcam: start it (with a plain-words reason when it cannot), and switch it off at the end of the day.
import { $, CAPTURE_H, CAPTURE_W, S, el } from "./state.js";
import { setCue } from "./hud.js";

const CAMERA_FAILURES = [
  [["NotAllowedError", "SecurityError"], "Camera access was refused.",
    "Allow the camera for this site (the camera icon in the address bar), then reload the page."],
  [["NotFoundError", "OverconstrainedError", "DevicesNotFoundError"], "No camera was found.",
    "Plug in a webcam (or close other apps using it), then reload the page."],
  [["NotReadableError", "AbortError"], "The camera is busy.", "Close other apps or tabs that use the camera, then reload the page."],
];

export async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return cameraFailed("This browser cannot use a camera on this page.",
      "Open formcheck at http://127.0.0.1 (or over https) in a current Chrome, Edge or Firefox.");
  }
  try {
    S.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: CAPTURE_W }, height: { ideal: CAPTURE_H }, frameRate: { ideal: 30 } }, audio: false });
  } catch (err) {
    const name = err && err.name;
    const known = CAMERA_FAILURES.find(([names]) => names.includes(name));
    if (known) return cameraFailed(known[1], known[2]);
    return cameraFailed("The camera could not be started.", String((err && err.message) || err));
  }
  S.cameraStartedAt = performance.now();
  const video = $("video");
  video.srcObject = S.stream;
  await new Promise((res) => { if (video.readyState >= 2) res(); else video.onloadeddata = () => res(); });
  try { await video.play(); } catch (e) { /* autoplay of a muted stream is allowed */ }
  $("stage-message").classList.add("hidden");
  $("stage-message-text").textContent = "";
  const track = S.stream.getVideoTracks()[0];
  if (track) track.onended = () => cameraFailed("The camera was disconnected.", "Reconnect it, then reload the page.");
  return true;
}

export function cameraFailed(title, detail) {
  S.cameraError = title;
  const msg = $("stage-message");
  msg.classList.remove("hidden");
  msg.classList.add("error");
  $("stage-message-text").replaceChildren(title, el("small", {}, detail));
  setCue("camera_needed");
  return false;
}

export function stopCamera(note = "Camera off — today's session is saved.") {
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
