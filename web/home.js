"use strict";
// A clinician agreeing with a flag means "this rep needs work"; disagreeing means "this rep was fine".
function verdictTag(r) {
  return fc.el("span", { class: r.agree ? "tag-disagree" : "tag-agree" }, r.agree ? "Worth fixing" : "Your clinician says this rep was fine");
}
(async () => {
  const { el, fmt } = fc;
  const user = await fc.header("home");
  if (user.role === "clinician") { location.href = "/clinician"; return; }
  document.getElementById("hello").textContent = "Welcome back, " + user.name;
  const [uploads, reviews, today] = await Promise.all([fc.api("/api/uploads"), fc.api("/api/me/reviews"),
    fc.api("/api/live/today").catch(() => null)]);  // the programme's plan (shown when the live coach is installed)
  if (today) {
    document.getElementById("today-title").textContent = "Today: " + today.title;
    document.getElementById("today-level").textContent = "Level " + today.level;
    document.getElementById("today-message").textContent = today.message || "";
    document.getElementById("today-list").replaceChildren(...(today.rest_day ? [] : (today.exercises || []).map((x) =>
      el("li", {}, el("strong", {}, x.name || fmt.rule(x.id)), " · ", x.hold_s ? `${x.sets} × ${x.hold_s} s hold` : `${x.sets} × ${x.reps} reps`))));
    document.getElementById("today-card").classList.remove("hidden");
  }
  const list = document.getElementById("uploads");
  list.replaceChildren(...(uploads.length ? uploads.map((u) => {
    const st = u.job ? u.job.status : "queued";
    const pill = st === "done" ? el("span", { class: "pill valid" }, "ready")
      : st === "failed" ? el("span", { class: "pill invalid" }, "failed") : el("span", { class: "pill unknown" }, st);
    return el("li", {}, el("div", {}, el("a", { href: u.result_url }, u.filename),
      el("div", { class: "small muted" }, fmt.rule(u.exercise_id) + " · " + fmt.date(u.created_at))), pill);
  }) : [el("li", { class: "empty" }, "No videos yet. ", el("a", { href: "/upload" }, "Upload your first set."))]));
  const box = document.getElementById("reviews");
  box.replaceChildren(...(reviews.length ? reviews.map((r) => el("div", { class: "note" },
    el("div", {}, verdictTag(r), " · ", r.rep_label),
    r.note ? el("div", {}, r.note) : null,
    el("div", { class: "by" }, r.clinician_name + " · " + fmt.date(r.created_at)))) : [el("p", { class: "empty" }, "No notes yet.")]));
})().catch((e) => fc.showError(document.body.appendChild(fc.el("div", { class: "alert error" })), e));
