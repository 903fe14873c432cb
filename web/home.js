"use strict";
(async () => {
  const { el, fmt } = fc;
  const user = await fc.header("home");
  if (user.role === "clinician") { location.href = "/clinician"; return; }
  document.getElementById("hello").textContent = "Welcome back, " + user.name;
  const [uploads, reviews] = await Promise.all([fc.api("/api/uploads"), fc.api("/api/me/reviews")]);
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
    el("div", {}, el("span", { class: r.agree ? "tag-agree" : "tag-disagree" }, r.agree ? "Flag confirmed" : "Flag overruled"),
      " · ", r.rep_label),
    r.note ? el("div", {}, r.note) : null,
    el("div", { class: "by" }, r.clinician_name + " · " + fmt.date(r.created_at)))) : [el("p", { class: "empty" }, "No notes yet.")]));
})().catch((e) => fc.showError(document.body.appendChild(fc.el("div", { class: "alert error" })), e));
