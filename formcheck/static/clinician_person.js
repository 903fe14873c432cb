"use strict";
(async () => {
  const { el, fmt } = fc;
  await fc.header("clinician");
  const pid = fc.pathId(2);
  const base = `/api/clinician/people/${pid}`;
  document.getElementById("csv").href = `${base}/report.csv`;
  document.getElementById("printable").href = `/clinician/people/${pid}/report`;
  document.getElementById("flagged-link").href = `/clinician/queue?person=${pid}&status=all`;

  function saved(msg) { const s = document.getElementById("saved"); s.textContent = msg; s.classList.remove("hidden"); }

  let d0 = { rules: [] };
  async function load() {
    const d = await fc.api(base);
    d0 = d;
    document.getElementById("name").textContent = d.person.name;
    document.getElementById("summary").textContent = `Level ${d.level ?? "–"} · ${d.sessions.length} session(s) · ${d.held ? "progression held" : "progressing normally"}`;
    const finished = d.sessions.filter((s) => s.total_reps > 0);
    const totalValid = finished.reduce((a, s) => a + s.valid_reps, 0), total = finished.reduce((a, s) => a + s.total_reps, 0);
    const lastPain = d.pain.length ? d.pain[d.pain.length - 1].pain : null;
    document.getElementById("stats").replaceChildren(...[[d.level ?? "–", "level"], [d.sessions.length, "sessions"], [total ? fmt.pct(totalValid / total) : "–", "valid reps"], [lastPain ?? "–", "last pain"], [d.flagged_open, "reps to review"]]
      .map(([v, l]) => el("div", { class: "stat" }, el("div", { class: "value" }, String(v)), el("div", { class: "label" }, l))));
    const dayX = (iso) => Math.round(new Date(iso + "T00:00:00Z").getTime() / 86400000);
    const xfmt = (v) => new Date(Math.round(v) * 86400000).toLocaleDateString([], { day: "numeric", month: "short", timeZone: "UTC" });
    const days = { xstep: 1, xpad: 0.5, xfmt };
    const ss = d.sessions;
    fc.lineChart(document.getElementById("chart-level"), { series: [{ x: ss.map((s) => dayX(s.day)), y: ss.map((s) => s.level), color: "#0f766e", points: true }], ymin: 0, ymax: Math.max(d.max_level || 6, ...ss.map((s) => s.level)), ...days, empty: "No sessions yet" });
    const during = d.pain.filter((p) => p.kind === "during"), after = d.pain.filter((p) => p.kind !== "during");
    fc.lineChart(document.getElementById("chart-pain"), {
      series: [{ x: during.map((p) => dayX(p.day)), y: during.map((p) => p.pain), color: "#c2410c", points: true },
        { x: after.map((p) => dayX(p.day)), y: after.map((p) => p.pain), color: "#b45309", points: true, width: 1 }],
      hlines: [{ y: 4, color: "#c2410c", label: "step back ≥ 4" }], ymin: 0, ymax: 10, ...days, empty: "No pain check-ins yet" });
    fc.legend(document.getElementById("legend-pain"), [["#c2410c", "during"], ["#b45309", "after / next day"]]);
    fc.lineChart(document.getElementById("chart-valid"), { series: [{ x: finished.map((s) => dayX(s.day)), y: finished.map((s) => s.valid_reps / s.total_reps), color: "#15803d", points: true }], ymin: 0, ymax: 1, ...days, empty: "No reps yet" });

    document.querySelector("#sessions tbody").replaceChildren(...(ss.length ? ss.slice().reverse().map((s) => el("tr", {},
      el("td", {}, fmt.day(s.day)), el("td", { class: "num" }, String(s.level)), el("td", {}, s.status.replace(/_/g, " ")),
      el("td", { class: "num" }, `${s.valid_reps} / ${s.total_reps}`), el("td", { class: "num" }, `${s.pain_during ?? "–"} / ${s.pain_after ?? "–"}`))) :
      [el("tr", {}, el("td", { colspan: 5, class: "empty" }, "No sessions yet."))]));

    document.getElementById("level").value = d.level ?? "";
    const hs = document.getElementById("hold-state"), hb = document.getElementById("hold-btn");
    hs.textContent = d.held ? "held" : "active"; hs.className = "pill " + (d.held ? "unknown" : "valid");
    hb.textContent = d.held ? "Release hold" : "Hold progression"; hb.dataset.hold = d.held ? "0" : "1";
    const sel = document.getElementById("rule"), prev = sel.value;
    sel.replaceChildren(...d.rules.map((r) => el("option", { value: `${r.exercise_id}:${r.rule_id}` },
      `${r.exercise_name}: ${r.rule_name} (${r.override ?? r.limit} ${r.unit}${r.override !== null ? ", adjusted" : ""})`)));
    if (prev) sel.value = prev;
    // the input takes the rule's own unit, within its valid range (the server checks the same range)
    const UNIT = { deg: "degrees", ratio: "ratio", s: "seconds" };
    const syncThreshold = () => {
      const r = d.rules.find((x) => `${x.exercise_id}:${x.rule_id}` === sel.value);
      const inp = document.getElementById("threshold");
      inp.value = r ? (r.override ?? "") : "";
      if (!r) return;
      inp.min = r.min ?? ""; inp.max = r.max ?? ""; inp.step = "any";
      inp.setAttribute("aria-label", `Limit for ${r.rule_name} in ${UNIT[r.unit] || r.unit}`);
      document.getElementById("threshold-unit").textContent = UNIT[r.unit] || r.unit;
      document.getElementById("threshold-range").textContent = `In ${UNIT[r.unit] || r.unit}, from ${r.min} to ${r.max} (programme default ${r.limit}).`;
    };
    sel.onchange = syncThreshold; syncThreshold();
    document.getElementById("actions").replaceChildren(...(d.actions.length ? d.actions.slice(0, 8).map((a) =>
      el("li", {}, el("span", {}, el("strong", {}, a.kind.replace(/_/g, " ")), " ", a.summary), el("span", { class: "muted nowrap" }, a.actor_name + " · " + fmt.day(a.day)))) :
      [el("li", { class: "muted" }, "No changes yet.")]));
  }

  // a form's error shows beside that form (and an older "saved" message goes away)
  const act = (fn, msg) => async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget.closest ? ev.currentTarget.closest("form") : null;
    const inline = form && form.querySelector(".form-error");
    document.getElementById("saved").classList.add("hidden");
    if (inline) inline.classList.add("hidden");
    try { await fn(); saved(msg); await load(); } catch (e) { fc.showError(inline || "error", e); }
  };
  document.getElementById("level-form").addEventListener("submit", act(() => fc.api(`${base}/level`, { method: "POST", json: { level: Number(document.getElementById("level").value) } }), "Level saved."));
  document.getElementById("hold-btn").addEventListener("click", act(() => fc.api(`${base}/hold`, { method: "POST", json: { hold: document.getElementById("hold-btn").dataset.hold === "1" } }), "Progression updated."));
  document.getElementById("threshold-form").addEventListener("submit", act(() => {
    const [exercise_id, rule_id] = document.getElementById("rule").value.split(":");
    const v = document.getElementById("threshold").value;
    const r = d0.rules.find((x) => x.exercise_id === exercise_id && x.rule_id === rule_id);
    return fc.api(`${base}/thresholds`, { method: "POST", json: { exercise_id, rule_id, threshold: v === "" ? null : Number(v), unit: r ? r.unit : null } });
  }, "Threshold saved."));
  document.getElementById("note-form").addEventListener("submit", act(async () => {
    await fc.api(`${base}/notes`, { method: "POST", json: { note: document.getElementById("note").value } });
    document.getElementById("note").value = "";
  }, "Note added."));
  await load();
})().catch((e) => fc.showError("error", e));
