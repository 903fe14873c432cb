"use strict";
(async () => {
  const { el, fmt } = fc;
  await fc.header("upload");
  const uploadId = fc.pathId(1);
  const pollMs = 1000;

  async function poll() {
    const up = await fc.api(`/api/uploads/${uploadId}`);
    document.getElementById("title").textContent = fmt.rule(up.exercise_id).replace(/^./, (c) => c.toUpperCase()) + " review";
    document.getElementById("subtitle").textContent = up.filename + " · " + fmt.date(up.created_at);
    const job = up.job;
    const pct = Math.round((job ? job.progress_ratio : 0) * 100);
    document.getElementById("bar").style.width = pct + "%";
    const frames = job && job.frames_total ? ` — ${job.frames_done} of ${job.frames_total} frames` : "";
    document.getElementById("job-pct").textContent = pct + "%" + frames;
    document.getElementById("job-status").textContent = job ? (job.message || job.status) : "queued";
    if (job && job.status === "failed") {
      document.getElementById("pending-title").textContent = "We could not analyse this video";
      document.getElementById("pending-text").textContent = job.message || "The analysis failed.";
      document.getElementById("bar").style.background = "var(--bad)";
      return;
    }
    if (job && job.status === "done") { await showResult(); return; }
    setTimeout(() => poll().catch((e) => fc.showError("error", e)), pollMs);
  }

  // Each fault: its name, value and limit with the unit, and the plain-words fix (the rule's cue).
  function faultText(f) {
    return el("span", { class: "fault" }, el("b", {}, fmt.rule(f.rule)), ` ${fmt.limitPair(f.value, f.threshold, f.unit)}`,
      f.cue ? el("span", { class: "fix" }, "Fix: " + f.cue) : null);
  }

  // The rules a camera view could not judge, grouped by what would let them be judged ("face the camera"): a
  // "Good rep" says nothing about them (issue 19).
  function notChecked(reps) {
    const byFix = new Map();
    let nReps = 0;
    for (const r of reps) {
      const blind = (r.checks || []).filter((c) => c.status === "unknown");
      if (blind.length) nReps += 1;
      for (const c of blind) {
        const fix = String(c.reason || "").replace(/^unknown — /, "").split(":")[0] || "the camera could not see it";
        if (!byFix.has(fix)) byFix.set(fix, new Set());
        byFix.get(fix).add(fmt.rule(c.rule));
      }
    }
    if (!byFix.size) return "";
    const parts = [...byFix].map(([fix, rules]) => `${[...rules].join(", ")} — ${fix}`);
    return `Not checked from this view (${nReps} of ${reps.length} reps): ${parts.join("; ")}.`;
  }

  function showMessages(report) {
    const box = document.getElementById("report-messages");
    const msgs = report.messages || [];
    box.replaceChildren(...msgs.map((m) => el("p", { style: "margin:0" }, m.text)));
    box.classList.toggle("hidden", !msgs.length);
    return msgs.length ? msgs[0].text : "";
  }

  async function showResult() {
    const res = await fc.api(`/api/uploads/${uploadId}/result`);
    const report = res.report, reps = report.reps || [];
    document.getElementById("pending").classList.add("hidden");
    document.getElementById("done").classList.remove("hidden");
    const why = showMessages(report);
    const blind = notChecked(reps);
    document.getElementById("not-checked").textContent = blind;
    document.getElementById("not-checked").classList.toggle("hidden", !blind);
    const valid = report.summary ? report.summary.valid_reps : reps.filter((r) => r.valid).length;
    const stats = [[reps.length, "reps"], [valid, "valid reps"], [reps.length - valid, "need work"], [report.view || "–", "camera view"]];
    document.getElementById("stats").replaceChildren(...stats.map(([v, l]) => el("div", { class: "stat" }, el("div", { class: "value" }, String(v)), el("div", { class: "label" }, l))));

    const player = document.getElementById("player");
    player.src = res.upload.annotated_url || res.upload.video_url;
    const tbody = document.querySelector("#reps tbody");
    let selected = null;
    function seek(rep, row) {
      player.currentTime = Math.max(0, rep.start_s);
      player.play().catch(() => {});
      if (selected) selected.classList.remove("selected");
      selected = row; row.classList.add("selected");
    }
    tbody.replaceChildren(...(reps.length ? reps.map((r) => {
      const verdict = r.verdict || (r.valid ? "valid" : "invalid");
      const cls = verdict === "valid" ? "valid" : verdict === "unknown" ? "unknown" : "invalid";
      const row = el("tr", { class: "clickable", "data-rep": r.index, "data-start": r.start_s },
        el("td", { class: "num" }, String(r.index)),
        el("td", { class: "num nowrap" }, `${fmt.num(r.start_s)}–${fmt.num(r.end_s)} s`),
        el("td", {}, r.side || "–"),
        el("td", {}, el("span", { class: "pill " + cls }, verdict)),
        el("td", {}, (r.faults || []).length ? (r.faults || []).map(faultText) : el("span", { class: "muted small" }, r.why || ((r.checks || []).some((c) => c.status === "unknown") ? "Good rep, as far as this view shows" : "Good rep"))));
      row.addEventListener("click", () => seek(r, row));
      // keyboard: every rep row is a stop in the tab order; Enter or Space plays it
      row.tabIndex = 0;
      row.setAttribute("aria-label", `Rep ${r.index}, ${verdict}: play from ${fmt.num(r.start_s)} s`);
      row.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); seek(r, row); } });
      return row;
    }) : [el("tr", {}, el("td", { colspan: 5, class: "empty" }, why || "No reps found in this video."))]));

    const chart = res.chart, canvas = document.getElementById("chart");
    const draw = (cursor) => {
      if (!chart) { fc.lineChart(canvas, { series: [], empty: "No angle data in this report" }); return; }
      fc.lineChart(canvas, {
        series: [{ x: chart.t_s, y: chart.values, color: "#0f766e" }],
        hlines: chart.lines.map((l) => ({ y: l.value, color: l.kind === "rep" ? "#64748b" : "#c2410c", label: l.label })),
        bands: reps.map((r) => ({ x0: r.start_s, x1: r.end_s, color: r.valid ? "rgba(21,128,61,.08)" : "rgba(194,65,12,.10)" })),
        xfmt: (v) => +v.toFixed(1) + " s", cursor,
        onClick: (t) => { player.currentTime = Math.max(0, t); },
      });
    };
    if (chart) {
      document.getElementById("chart-title").textContent = `${chart.label} over time (${chart.unit === "deg" ? "degrees" : chart.unit})`;
      fc.legend(document.getElementById("legend"), [["#0f766e", chart.label], ...chart.lines.map((l) => [l.kind === "rep" ? "#64748b" : "#c2410c", l.label, true]),
        ["rgba(21,128,61,.35)", "valid rep"], ["rgba(194,65,12,.4)", "rep with faults"]]);
    }
    draw();
    player.addEventListener("timeupdate", () => draw(player.currentTime));
    window.addEventListener("resize", () => draw(player.currentTime));

    const notes = res.reviews || [];
    document.getElementById("notes").replaceChildren(...(notes.length ? notes.map((n) => el("div", { class: "note" },
      el("div", {}, el("span", { class: n.agree ? "tag-disagree" : "tag-agree" }, n.agree ? "Worth fixing" : "Your clinician says this rep was fine"), " · ", n.rep_label),
      n.note ? el("div", {}, n.note) : null, el("div", { class: "by" }, n.clinician_name + " · " + fmt.date(n.created_at)))) :
      [el("p", { class: "muted small" }, "Your clinician hasn't reviewed this video yet.")]));
  }

  await poll();
})().catch((e) => fc.showError("error", e));
