"use strict";
(async () => {
  const { el, fmt } = fc;
  await fc.header("queue");
  const filter = document.getElementById("filter");
  filter.value = fc.param("status") || "open";
  async function load() {
    const q = new URLSearchParams({ status: filter.value });
    const pid = fc.param("person"); if (pid) q.set("person", pid);
    const items = await fc.api("/api/clinician/queue?" + q);
    const box = document.getElementById("queue");
    box.replaceChildren(...(items.length ? items.map((r) => el("div", { class: "queue-item", "data-rep": r.key },
      el("a", { href: `/clinician/reps/${encodeURIComponent(r.key)}` }, el("img", { class: "strip", src: r.strip_url, alt: "frames of this rep", loading: "lazy" })),
      el("div", {},
        el("div", {}, el("strong", {}, r.person_name), " · ", fmt.rule(r.exercise_id), r.side ? ` (${r.side})` : "", " · rep ", String(r.index)),
        el("div", { class: "small muted" }, (r.source === "upload" ? "Uploaded video" : "Live session") + " · " + fmt.date(r.at) + ` · ${fmt.num(r.start_s)}–${fmt.num(r.end_s)} s`),
        ...(r.faults.length ? r.faults.map((f) => el("span", { class: "fault" }, el("b", {}, fmt.rule(f.rule)), ` ${fmt.measure(f.value, f.unit)} (limit ${fmt.measure(f.threshold, f.unit)})`)) : [el("span", { class: "small" }, r.reason || "")]),
        r.review ? el("div", { class: "small" }, el("span", { class: r.review.agree ? "tag-agree" : "tag-disagree" }, r.review.agree ? "Agreed" : "Disagreed"), r.review.note ? " — " + r.review.note : "") : null),
      el("a", { class: "button" + (r.review ? " secondary" : ""), href: `/clinician/reps/${encodeURIComponent(r.key)}` }, r.review ? "View" : "Review")))
      : [el("p", { class: "empty" }, filter.value === "open" ? "Nothing waiting: every flagged rep has been reviewed." : "No flagged reps yet.")]));
    box.dataset.loaded = "1";
  }
  filter.addEventListener("change", () => load().catch((e) => fc.showError("error", e)));
  await load();
})().catch((e) => fc.showError("error", e));
