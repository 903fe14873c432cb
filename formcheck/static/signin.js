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
      const next = fc.param("next");
      const safeNext = next && next.startsWith("/") && !next.startsWith("//") ? next : null;
      location.href = safeNext || (user.role === "clinician" ? "/clinician" : "/");
    } catch (e) {
      fc.showError(err, e);
      btn.disabled = false;
    }
  });
})();
