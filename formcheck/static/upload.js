"use strict";
(async () => {
  const { el } = fc;
  await fc.header("upload");
  const [exercises, limits] = await Promise.all([fc.api("/api/exercises"), fc.api("/api/uploads/limits")]);
  const sel = document.getElementById("exercise");
  sel.replaceChildren(...exercises.map((x) => el("option", { value: x.id }, x.name)));
  const pre = fc.param("exercise");
  sel.value = pre && exercises.some((x) => x.id === pre) ? pre : exercises.some((x) => x.id === "squat") ? "squat" : exercises[0].id;
  document.getElementById("limit").textContent = Math.round(limits.max_upload_mb);

  const fileInput = document.getElementById("file");
  const drop = document.getElementById("drop");
  const err = document.getElementById("error");
  let file = null;
  function pick(f) {
    file = f || null;
    document.getElementById("drop-title").textContent = file ? file.name : "Choose a video or drop it here";
    document.getElementById("drop-sub").textContent = file ? (file.size / 1048576).toFixed(1) + " MB" : "MP4, MOV, WebM, MKV or AVI";
    err.classList.add("hidden");
    if (file && file.size > limits.max_upload_bytes) fc.showError(err, `This video is ${(file.size / 1048576).toFixed(0)} MB; the limit is ${Math.round(limits.max_upload_mb)} MB.`);
  }
  fileInput.addEventListener("change", () => pick(fileInput.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); pick(e.dataTransfer.files[0]); });

  document.getElementById("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.classList.add("hidden");
    if (!file) { fc.showError(err, "Choose a video first."); return; }
    const btn = document.getElementById("submit");
    btn.disabled = true;
    const box = document.getElementById("progress-box"), bar = document.getElementById("bar");
    box.classList.remove("hidden");
    const q = new URLSearchParams({ exercise: sel.value, side: document.getElementById("side").value, filename: file.name });
    const token = await fc.csrfToken();
    // XHR rather than fetch: it reports upload progress. The body is the raw file, streamed to disk by the server.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/uploads?" + q.toString());
    xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const p = Math.round((e.loaded / e.total) * 100);
      bar.style.width = p + "%";
      document.getElementById("progress-pct").textContent = p + "%";
    };
    xhr.onload = () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = { detail: xhr.statusText }; }
      if (xhr.status >= 200 && xhr.status < 300) {
        document.getElementById("progress-text").textContent = "Uploaded. Opening the review…";
        location.href = data.result_url;
      } else {
        box.classList.add("hidden");
        fc.showError(err, data.detail || "Upload failed (" + xhr.status + ")");
        btn.disabled = false;
      }
    };
    xhr.onerror = () => { box.classList.add("hidden"); fc.showError(err, "The upload was interrupted. Check the connection and try again."); btn.disabled = false; };
    xhr.send(file);
  });
})().catch((e) => fc.showError("error", e));
