"use strict";
(async () => {
  const { el, fmt } = fc;
  await fc.header("queue");
  const key = fc.pathId(2);
  const rep = await fc.api(`/api/clinician/reps/${encodeURIComponent(key)}`);
  // previous / next rep of the queue this rep was opened from (same filters, carried in the query string)
  const qs = location.search.replace(/^\?/, "");
  document.getElementById("back").href = "/clinician/queue" + (qs ? "?" + qs : "");
  fc.api(`/api/clinician/reps/${encodeURIComponent(key)}/neighbours${qs ? "?" + qs : ""}`).then((n) => {
    const link = (id, k) => { const a = document.getElementById(id); if (k) { a.href = `/clinician/reps/${encodeURIComponent(k)}${qs ? "?" + qs : ""}`; a.hidden = false; } };
    link("prev", n.prev_key); link("next", n.next_key);
    document.getElementById("position").textContent = n.position ? `${n.position} of ${n.total}` : "";
    document.addEventListener("keydown", (ev) => {
      if (ev.target.closest("input, textarea, select")) return;
      if (ev.key === "j" && n.next_key) location.href = document.getElementById("next").href;
      if (ev.key === "k" && n.prev_key) location.href = document.getElementById("prev").href;
    });
  }).catch(() => {});
  document.getElementById("title").textContent = `${rep.person_name}: ${fmt.rule(rep.exercise_id)}, rep ${rep.index}`;
  document.getElementById("subtitle").textContent = (rep.source === "upload" ? "Uploaded video" : "Live session") + " · " + fmt.date(rep.at) +
    ` · ${fmt.num(rep.start_s)}–${fmt.num(rep.end_s)} s` + (rep.side ? ` · ${rep.side} side` : "");
  document.getElementById("who").textContent = rep.person_name;
  document.getElementById("strip").src = rep.strip_url;
  if (rep.clip_url) {
    const clip = document.getElementById("clip");
    clip.classList.remove("hidden");
    clip.src = `${rep.clip_url}#t=${rep.clip_start_s.toFixed(2)}`;
    // play only this rep's window of the video, looping
    clip.addEventListener("loadedmetadata", () => { clip.currentTime = rep.clip_start_s; });
    clip.addEventListener("timeupdate", () => { if (clip.currentTime > rep.clip_end_s) clip.currentTime = rep.clip_start_s; });
    document.getElementById("media-note").textContent = "The clip loops over this rep; the strip below shows frames from its start to its end.";
  } else {
    document.getElementById("media-note").textContent = "Frames from the start to the end of the rep.";
  }
  document.getElementById("faults").replaceChildren(...(rep.faults.length ? rep.faults.map((f) =>
    el("div", { class: "fault" }, el("b", {}, fmt.rule(f.rule)), `: ${fmt.limitPair(f.value, f.threshold, f.unit)}`)) :
    [el("p", {}, rep.reason || "Judged invalid")]));
  // every rule's check on this rep (value against limit), then the rep's peak measurements
  const unitOf = (k) => (k.endsWith("_deg") ? "deg" : k.endsWith("_s") ? "s" : "");
  const label = (k) => fmt.rule(k.replace(/_(deg|s|ratio)$/, ""));
  const rows = (rep.checks || []).map((c) => el("tr", {},
    el("td", {}, fmt.rule(c.rule)), el("td", { class: "num" }, fmt.measure(c.value, c.unit)),
    el("td", { class: "num muted" }, "limit " + fmt.measure(c.threshold, c.unit)),
    el("td", {}, el("span", { class: "pill " + (c.status === "ok" ? "valid" : c.status === "fault" ? "invalid" : "unknown") }, c.status))));
  for (const [k, v] of Object.entries(rep.metrics || {})) {
    rows.push(el("tr", {}, el("td", {}, label(k)), el("td", { class: "num" }, typeof v === "number" ? fmt.measure(v, unitOf(k)) : String(v)), el("td", {}), el("td", {})));
  }
  document.querySelector("#metrics tbody").replaceChildren(...(rows.length ? rows :
    [el("tr", {}, el("td", { class: "muted" }, "No extra measurements stored for this rep."))]));

  function showExisting(r) {
    const box = document.getElementById("existing");
    if (!r) { box.replaceChildren(); return; }
    box.replaceChildren(el("div", { class: "note", "data-testid": "review" },
      el("span", { class: r.agree ? "tag-agree" : "tag-disagree" }, r.agree ? "You agreed with the flag" : "You disagreed with the flag"),
      r.note ? el("div", {}, r.note) : null, el("div", { class: "by" }, r.clinician_name + " · " + fmt.date(r.created_at))));
    document.getElementById("note").value = r.note || "";
  }
  showExisting(rep.review);
  async function send(agree) {
    const saved = document.getElementById("saved");
    saved.classList.add("hidden");
    try {
      const r = await fc.api(`/api/clinician/reps/${encodeURIComponent(key)}/review`, { method: "POST", json: { agree, note: document.getElementById("note").value } });
      showExisting(r);
      saved.textContent = "Saved. " + rep.person_name + " will see this on their pages.";
      saved.classList.remove("hidden");
    } catch (e) { fc.showError("error", e); }
  }
  document.getElementById("agree").addEventListener("click", () => send(true));
  document.getElementById("disagree").addEventListener("click", () => send(false));
})().catch((e) => fc.showError("error", e));
