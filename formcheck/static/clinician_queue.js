"use strict";
// The flagged-rep queue with filters (person, exercise, rule, days) kept in the URL, so a rep's page can step
// to the previous / next rep of the same filtered queue.
(async () => {
  const { el, fmt } = fc;
  await fc.header("queue");
  const FIELDS = ["status", "person", "exercise", "rule", "date_from", "date_to"];
  const form = document.getElementById("filters");
  const ctl = (name) => form.elements.namedItem(name);
  // the choices are what the queue holds: every exercise and fault that has at least one flagged rep
  const [people, everything] = await Promise.all([fc.api("/api/clinician/people"), fc.api("/api/clinician/queue?status=all")]);
  ctl("person").append(...people.map((p) => el("option", { value: String(p.id) }, p.name)));
  const exercises = [...new Set(everything.map((r) => r.exercise_id))].sort();
  ctl("exercise").append(...exercises.map((x) => el("option", { value: x }, fmt.rule(x))));
  const rules = [...new Set(everything.flatMap((r) => r.faults.map((f) => f.rule)))].sort();
  ctl("rule").append(...rules.map((id) => el("option", { value: id }, fmt.rule(id))));
  const params = new URLSearchParams(location.search);
  for (const f of FIELDS) if (params.get(f)) ctl(f).value = params.get(f);
  if (!ctl("status").value) ctl("status").value = "open";

  function query() {
    const q = new URLSearchParams();
    for (const f of FIELDS) { const v = ctl(f).value; if (v) q.set(f, v); }
    return q;
  }
  function faultText(f) {
    return el("span", { class: "fault" }, el("b", {}, fmt.rule(f.rule)), ` ${fmt.limitPair(f.value, f.threshold, f.unit)}`);
  }
  async function load() {
    const q = query();
    history.replaceState(null, "", "/clinician/queue?" + q);
    const items = await fc.api("/api/clinician/queue?" + q);
    const back = q.toString();
    const box = document.getElementById("queue");
    document.getElementById("count").textContent = `${items.length} rep${items.length === 1 ? "" : "s"}`;
    const href = (r) => `/clinician/reps/${encodeURIComponent(r.key)}?${back}`;
    box.replaceChildren(...(items.length ? items.map((r) => el("div", { class: "queue-item", "data-rep": r.key },
      el("a", { href: href(r), tabindex: "-1", "aria-hidden": "true" }, el("img", { class: "strip", src: r.strip_url, alt: "", loading: "lazy" })),
      el("div", {},
        el("div", {}, el("strong", {}, r.person_name), " · ", fmt.rule(r.exercise_id), r.side ? ` (${r.side})` : "", " · rep ", String(r.index)),
        el("div", { class: "small muted" }, (r.source === "upload" ? "Uploaded video" : "Live session") + " · " + fmt.date(r.at) + ` · ${fmt.num(r.start_s)}–${fmt.num(r.end_s)} s`),
        ...(r.faults.length ? r.faults.map(faultText) : [el("span", { class: "small" }, r.reason || "")]),
        r.review ? el("div", { class: "small" }, el("span", { class: r.review.agree ? "tag-agree" : "tag-disagree" }, r.review.agree ? "Agreed" : "Disagreed"), r.review.note ? " — " + r.review.note : "") : null),
      el("a", { class: "button" + (r.review ? " secondary" : ""), href: href(r), "aria-label": `${r.review ? "View" : "Review"} ${r.person_name}'s ${fmt.rule(r.exercise_id)} rep ${r.index}` }, r.review ? "View" : "Review")))
      : [el("p", { class: "empty" }, ctl("status").value === "open" ? "Nothing waiting with these filters: every flagged rep has been reviewed." : "No flagged reps with these filters.")]));
    box.dataset.loaded = "1";
  }
  form.addEventListener("change", () => load().catch((e) => fc.showError("error", e)));
  form.addEventListener("submit", (ev) => ev.preventDefault());
  await load();
})().catch((e) => fc.showError("error", e));
