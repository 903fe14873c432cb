"use strict";
(() => {
  const clinician = location.pathname.startsWith("/clinician");
  if (clinician) {
    document.getElementById("title").textContent = "Clinician sign-in";
    document.getElementById("subtitle").textContent = "Review flagged reps and guide the people under your care.";
    document.getElementById("other").innerHTML = 'Doing your exercises? <a href="/signin">Sign in here</a>.';
  } else {
    document.getElementById("other").innerHTML = 'Clinician? <a href="/clinician/signin">Sign in here</a>.';
  }
  // Where to go after signing in: one `next`, a path on this site (one leading slash, no backslash or control
  // character anywhere: browsers read "/\\evil.example" and "/\t/evil" as another host). Same rule as the server's.
  function safeNext() {
    const all = new URLSearchParams(location.search).getAll("next");
    if (all.length !== 1) return null;
    const next = all[0];
    if (!/^\/[^/\\]/.test(next) || /[\\\u0000-\u001f\u007f]/.test(next) || next.length > 2000) return null;
    return new URL(next, location.origin).origin === location.origin ? next : null;
  }
  fc.csrfToken();  // starts the anonymous session whose token the sign-in post must echo
  document.getElementById("signin").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("error");
    err.classList.add("hidden");
    const btn = document.getElementById("submit");
    btn.disabled = true;
    try {
      const user = await fc.api("/api/auth/signin", {
        method: "POST",
        json: { name: document.getElementById("name").value, password: document.getElementById("password").value },
      });
      location.href = safeNext() || (user.role === "clinician" ? "/clinician" : "/");
    } catch (e) {
      fc.showError(err, e);
      btn.disabled = false;
    }
  });
})();
