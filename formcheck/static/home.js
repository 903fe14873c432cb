"use strict";
// A clinician agreeing with a flag means "this rep needs work"; disagreeing means "this rep was fine".
// The Today card (level and what it means, minutes, what is done, what a step back changed) and, the first
// time, the method in plain words; after that the method stays one tap away.
function renderToday(live, t) {
  const { el } = fc;
  const $ = (id) => document.getElementById(id);
  $("today-title").textContent = "Today: " + live.title;
  $("today-level").textContent = "Level " + live.level;
  $("today-message").textContent = live.message || "";
  $("today-list").replaceChildren(...(live.rest_day ? [] : (live.exercises || []).map((x) =>
    el("li", {}, el("strong", {}, x.name || fc.fmt.rule(x.id)), " · ", x.hold_s ? `${x.sets} × ${x.hold_s} s hold` : `${x.sets} × ${x.reps} reps`))));
  if (t) {
    $("today-level-text").replaceChildren(el("strong", {}, `Level ${t.level.number} of ${t.level.of} — ${t.level.name}. `), t.level.focus + " ", el("span", { class: "muted" }, t.level_meaning));
    $("today-minutes").textContent = t.rest_day ? `No exercise today (at most ${t.budget_min} minutes a day).`
      : `About ${Math.round(t.estimated_min)} minutes today · ${t.used_min.toFixed(1)} of ${t.budget_min} minutes used.`;
    const fin = t.done_today.filter((d) => d.status === "finished");
    const good = fin.reduce((n, d) => n + d.valid_reps, 0);
    // the whole day's target, not the sets started; a day with nothing done is said so (issue 19)
    $("today-done").textContent = fin.some((d) => d.exercised)
      ? `Done today: ${good} of ${t.day_target_reps} good reps.`
      : fin.length ? "Today's session ended before any exercise was done."
      : t.done_today.length ? "Today's session is started but not finished: answer the pain questions to finish it." : "Not done yet today.";
    if (t.step_back) {
      const sb = t.step_back;
      $("today-stepback").textContent = `Stepped back${sb.from_level ? ` from level ${sb.from_level}` : ""} to level ${sb.to_level} on ${fc.fmt.day(sb.day)}: ${sb.reason}. Setbacks are expected — you move up again after pain-free days.`;
      $("today-stepback").classList.remove("hidden");
    }
    const items = () => t.method.map((m) => el("li", {}, el("strong", {}, m.title + ". "), m.text));
    $("method-list").replaceChildren(...items());
    $("method-list-2").replaceChildren(...items());
    if (!t.onboarded) {
      $("hello").textContent = $("hello").textContent.replace(/^Welcome back/, "Welcome");
      $("onboarding").classList.remove("hidden");
      ($("name-card").classList.contains("hidden") ? $("onboarding-done") : $("name-input")).focus();  // the name first
    }
    $("onboarding-done").addEventListener("click", async () => {
      $("onboarding").classList.add("hidden");
      await fc.api("/api/me/settings", { method: "PUT", json: { onboarded: true } }).catch(() => {});
      $("today-card").scrollIntoView();
    });
  }
  $("checkin").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    // no default: a stray tap must not record "no pain" (issue 19)
    if ($("checkin-pain").value === "") { $("checkin-result").textContent = "Choose a number from 0 to 10 first."; return; }
    try {
      const r = await fc.api("/api/me/checkin", { method: "POST", json: { pain: parseInt($("checkin-pain").value, 10) } });
      $("checkin-result").textContent = `Saved (${r.pain}/10). ${r.message}`;
    } catch (e) { $("checkin-result").textContent = e.message; }
  });
  $("today-card").classList.remove("hidden");
}

function verdictTag(r) {
  return fc.el("span", { class: r.agree ? "tag-disagree" : "tag-agree" }, r.agree ? "Worth fixing" : "Your clinician says this rep was fine");
}
// No name yet (a new local person): ask for one; pages never call the person "You" (issue 19).
function askName() {
  const $ = (id) => document.getElementById(id);
  $("name-card").classList.remove("hidden");
  $("name-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await fc.api("/api/me/name", { method: "PUT", json: { name: $("name-input").value } });
      $("hello").textContent = $("hello").textContent.replace(/^(Welcome( back)?).*$/, (all, w) => `${w}, ${r.name}`);
      $("name-card").classList.add("hidden");
      const who = document.querySelector("#topbar .who span:not(.badge)");
      if (who) who.textContent = r.name;
    } catch (e) { $("name-result").textContent = e.message; }
  });
}

(async () => {
  const { el, fmt } = fc;
  const user = await fc.header("home");
  if (user.role === "clinician") { location.href = "/clinician"; return; }
  document.getElementById("hello").textContent = user.named === false ? "Welcome back" : "Welcome back, " + user.name;
  if (user.named === false) askName();
  const [uploads, reviews, today] = await Promise.all([fc.api("/api/uploads"), fc.api("/api/me/reviews"),
    fc.api("/api/live/today").catch(() => null)]);  // the programme's plan (shown when the live coach is installed)
  if (today) renderToday(today, await fc.api("/api/today").catch(() => null));
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
