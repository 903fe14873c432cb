"use strict";
(async () => {
  const { el, fmt } = fc;
  await fc.header("clinician");
  const [people, alerts] = await Promise.all([fc.api("/api/clinician/people"), fc.api("/api/clinician/alerts").catch(() => [])]);
  if (alerts.length) {
    document.getElementById("alert-list").replaceChildren(...alerts.map((a) => el("li", { class: "alert-item" },
      el("div", {}, el("span", { class: "pill invalid" }, a.kind === "see_professional" ? "see a professional" : `pain ${a.pain}/10`), " ", a.message,
        el("div", { class: "small muted" }, fmt.day(a.day + "T12:00:00"))),
      el("a", { class: "button", href: `/clinician/people/${a.person_id}` }, `Open ${a.person_name}`))));
    document.getElementById("alerts").classList.remove("hidden");
  }
  const tbody = document.querySelector("#people tbody");
  document.getElementById("open-count").textContent = people.reduce((a, p) => a + p.flagged_open, 0);
  tbody.replaceChildren(...(people.length ? people.map((p) => {
    const row = el("tr", { class: "clickable", onclick: () => { location.href = `/clinician/people/${p.id}`; } },
      el("td", {}, el("a", { href: `/clinician/people/${p.id}` }, el("strong", {}, p.name))),
      el("td", { class: "num" }, p.level ? "Level " + p.level : "–"),
      el("td", {}, p.held ? el("span", { class: "pill unknown" }, "held") : el("span", { class: "pill valid" }, "active")),
      el("td", {}, fmt.date(p.last_session_at)),
      el("td", { class: "num" }, p.flagged_open ? el("span", { class: "pill invalid" }, String(p.flagged_open)) : el("span", { class: "muted" }, "none")),
      el("td", {}, el("a", { href: `/clinician/people/${p.id}` }, "Open →")));
    return row;
  }) : [el("tr", {}, el("td", { colspan: 6, class: "empty" }, "Nobody is assigned to you yet."))]));
})().catch((e) => fc.showError("error", e));
