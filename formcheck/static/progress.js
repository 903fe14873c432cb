"use strict";
// The person's own progress: pain (during / after / next morning), level path with step-backs, good-rep share.
// Charts: uPlot from npm, served by the app (/vendor/uplot); without it the table below still tells all.
(async () => {
  const { el, fmt } = fc;
  const $ = (id) => document.getElementById(id);
  await fc.header("progress");
  const p = await fc.api("/api/me/progress");
  if (!p.days.length) { $("empty").classList.remove("hidden"); return; }
  $("content").classList.remove("hidden");
  const stat = (n, label, id) => el("div", { class: "stat", "data-testid": id }, el("div", { class: "value" }, n), el("div", { class: "label" }, label));
  $("stats").replaceChildren(
    stat(String(p.days_done), p.days_done === 1 ? "day done" : "days done", "stat-days"),
    stat(String(p.streak_days), "in a row", "stat-streak"),
    stat(p.valid_share === null ? "–" : fmt.pct(p.valid_share), "reps with good form", "stat-share"),
    stat(`${p.valid_reps}`, "good reps in all", "stat-reps"));
  const pain = (v) => (v === null || v === undefined ? "–" : `${v}/10`);
  $("days").replaceChildren(...p.days.slice().reverse().map((d) => el("tr", { class: d.step_back ? "step-back" : "" },
    el("td", {}, fmt.day(d.day + "T12:00:00")), el("td", {}, d.level === null ? "–" : String(d.level) + (d.step_back ? " (step back)" : "")),
    el("td", {}, d.done ? "yes" : "no"), el("td", {}, d.total_reps ? `${d.valid_reps} of ${d.total_reps}` : "–"),
    el("td", {}, pain(d.pain_during)), el("td", {}, pain(d.pain_after)), el("td", {}, pain(d.pain_next_day)))));
  if (typeof window.uPlot !== "function") {
    document.querySelectorAll(".chart-card").forEach((c) => c.classList.add("hidden"));
    return;
  }
  // one x per day, at local midnight, so points sit on the day ticks
  const xs = p.days.map((d) => { const [y, m, dd] = d.day.split("-").map(Number); return new Date(y, m - 1, dd).getTime() / 1000; });
  // at least a week on the x axis, half a day of margin: one day of data is a dot on a readable week
  const DAY_S = 86400, MIN_WINDOW_DAYS = 7;
  const xRange = [Math.min(xs[0], xs[xs.length - 1] - (MIN_WINDOW_DAYS - 1) * DAY_S) - DAY_S / 2, xs[xs.length - 1] + DAY_S / 2];
  const nul = (v) => (v === null || v === undefined ? null : v);
  const charts = [];
  const make = (host, series, data, scaleY, extra = {}) => {
    const box = $(host);
    const opts = {
      width: Math.max(260, box.clientWidth), height: 220,
      scales: { x: { time: true, range: () => xRange }, y: scaleY },
      series: [{}, ...series],
      axes: [{ space: 56, incrs: [DAY_S, 2 * DAY_S, 7 * DAY_S, 14 * DAY_S, 28 * DAY_S],
        values: (u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleDateString([], { month: "short", day: "numeric" })) },
      { size: 40 }],
      legend: { live: false },
      cursor: { show: true, drag: { x: false, y: false } },
      ...extra,
    };
    const u = new window.uPlot(opts, [xs, ...data], box);
    charts.push([u, box]);
    return u;
  };
  const stepBack = 4; // the programme's step-back pain (runners_knee_v1 rules.step_back_pain)
  make("chart-pain", [
    { label: "during", stroke: "#ea580c", width: 2, points: { show: true, size: 9 } },
    { label: "after", stroke: "#7c3aed", width: 2, points: { show: true, size: 9 } },
    { label: "next morning", stroke: "#0f766e", width: 2, points: { show: true, size: 9 } },
  ], [p.days.map((d) => nul(d.pain_during)), p.days.map((d) => nul(d.pain_after)), p.days.map((d) => nul(d.pain_next_day))],
  { range: [0, 10] }, { spanGaps: true, hooks: { draw: [(u) => {
    // the programme's step-back pain as a dashed line across the plot
    const y = u.valToPos(stepBack, "y", true), g = u.ctx;
    g.save(); g.setLineDash([6, 4]); g.strokeStyle = "#b91c1c"; g.lineWidth = 1.5;
    g.beginPath(); g.moveTo(u.bbox.left, y); g.lineTo(u.bbox.left + u.bbox.width, y); g.stroke(); g.restore();
  }] } });
  make("chart-level", [
    { label: "level", stroke: "#0f766e", width: 3, paths: window.uPlot.paths.stepped({ align: 1 }), points: { show: true, size: 6 } },
    { label: "step back", stroke: "#b91c1c", fill: "#b91c1c", width: 0, points: { show: true, size: 11, fill: "#b91c1c" }, paths: () => null },
  ], [p.days.map((d) => nul(d.level)), p.days.map((d) => (d.step_back ? nul(d.level) : null))], { range: [0.5, 6.5] });
  make("chart-share", [
    { label: "good form", stroke: "#15803d", fill: "rgba(21, 128, 61, .15)", width: 2, points: { show: true, size: 9 } },
  ], [p.days.map((d) => (d.valid_share === null ? null : Math.round(d.valid_share * 100)))], { range: [0, 100] });
  window.addEventListener("resize", () => { for (const [u, box] of charts) u.setSize({ width: Math.max(260, box.clientWidth), height: 220 }); });
  window.fcProgress = { charts: charts.length, days: p.days.length };
})().catch((e) => fc.showError("error", e));
