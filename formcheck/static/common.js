// formcheck shared page helpers: JSON API calls with the CSRF token, the top bar, and small canvas charts.
"use strict";

const fc = (() => {
  function cookie(name) {
    const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }

  // The CSRF token of this browser's session, from same-origin JSON (the fc_csrf cookie is HttpOnly: a page on
  // another port of this host shares the cookies and must not read it). Asked once per page.
  let csrfPromise = null;
  async function csrfToken() {
    if (!csrfPromise) {
      csrfPromise = fetch("/api/auth/csrf", { credentials: "same-origin" })
        .then((r) => r.json()).then((d) => d.csrf_token)
        .catch((e) => { csrfPromise = null; throw e; });
    }
    return csrfPromise;
  }

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  // fetch JSON; state-changing calls carry the CSRF token; errors become ApiError with the server's one-liner.
  async function api(path, { method = "GET", json, body, headers = {} } = {}) {
    const h = { Accept: "application/json", ...headers };
    if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = await csrfToken();
    if (json !== undefined) { h["Content-Type"] = "application/json"; body = JSON.stringify(json); }
    const r = await fetch(path, { method, body, headers: h, credentials: "same-origin" });
    const ct = r.headers.get("content-type") || "";
    const data = ct.includes("application/json") ? await r.json() : await r.text();
    if (!r.ok) {
      if (r.status === 401 && !location.pathname.endsWith("/signin")) {
        const signin = location.pathname.includes("/clinician") ? "/clinician/signin" : "/signin";
        location.href = signin + "?next=" + encodeURIComponent(location.pathname + location.search);
      }
      throw new ApiError(r.status, (data && data.detail) || String(data) || r.statusText);
    }
    return data;
  }

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const LOGO = '<svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"><circle cx="12" cy="4.5" r="2"/><path d="M12 7v6l-4 3.5M12 13l4 3.5M8 10h8M8 16.5 6.5 21M16 16.5l1.5 4.5"/></svg>';

  let mePromise = null;
  function me() {
    if (!mePromise) {
      mePromise = api("/api/auth/me");
      mePromise.then((u) => { if (u && u.csrf_token) csrfPromise = Promise.resolve(u.csrf_token); }, () => {});
    }
    return mePromise;
  }

  async function signOut() {
    try { await api("/api/auth/signout", { method: "POST" }); } catch (e) { /* already signed out */ }
    location.href = location.pathname.includes("/clinician") ? "/clinician/signin" : "/signin";
  }

  // The top bar: brand, the user's pages (by role) and sign-out.
  async function header(active) {
    const host = document.getElementById("topbar");
    if (!host) return null;
    const user = await me();
    const links = user.role === "clinician"
      ? [["clinician", "/clinician", "People"], ["queue", "/clinician/queue", "Flagged reps"]]
      : [["home", "/", "Today"], ["live", "/live", "Live coach"], ["progress", "/progress", "Progress"], ["upload", "/upload", "Upload a video"]];
    const nav = el("nav", {}, links.map(([k, href, label]) => el("a", { href, class: k === active ? "active" : "" }, label)));
    const brand = el("a", { class: "brand", href: user.role === "clinician" ? "/clinician" : "/" });
    brand.innerHTML = '<span class="logo">' + LOGO + "</span>formcheck";
    host.className = "topbar";
    host.replaceChildren(el("div", { class: "inner" }, brand, nav,
      el("div", { class: "who" }, el("span", { class: "badge" }, user.role), el("span", {}, user.named === false ? "" : user.name),
        el("button", { class: "secondary", onclick: signOut, "data-testid": "signout" }, "Sign out"))));
    return user;
  }

  function showError(target, err) {
    const box = typeof target === "string" ? document.getElementById(target) : target;
    if (!box) return;
    box.textContent = err instanceof Error ? err.message : String(err);
    box.classList.remove("hidden");
  }

  const fmt = {
    s: (v) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(1) + " s"),
    num: (v, d = 1) => (v === null || v === undefined || Number.isNaN(Number(v)) ? "–" : Number(v).toFixed(d)),
    date: (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "–"),
    day: (iso) => (iso ? new Date(iso).toLocaleDateString([], { day: "numeric", month: "short" }) : "–"),
    pct: (v) => (v === null || v === undefined ? "–" : Math.round(v * 100) + "%"),
    unit: (u) => (u === "deg" ? "°" : u === "ratio" || !u ? "" : " " + u),
    measure: (v, u) => (v === null || v === undefined ? "–" : Number(v).toFixed(1) + (u === "deg" ? "°" : u === "ratio" || !u ? "" : " " + u)),
    rule: (id) => String(id || "").replace(/_/g, " "),
    // A measured value and its limit with units and enough digits that a failing value never reads the same
    // as its limit ("0.14 ratio, limit 0.13"; "82.4°, limit 75°").
    limitPair: (v, lim, u) => {
      const base = u === "deg" ? 1 : u === "ratio" ? 2 : u === "s" ? 1 : 2;
      let d = base;
      if (Number.isFinite(v) && Number.isFinite(lim)) while (d < 4 && Number(v).toFixed(d) === Number(lim).toFixed(d)) d++;
      const one = (x, dd, unit) => (x === null || x === undefined || !Number.isFinite(Number(x)) ? "–"
        : Number(x).toFixed(dd) + (u === "deg" ? "°" : u && unit ? " " + u : ""));
      return `${one(v, d, true)}, limit ${one(lim, d, false)}`;
    },
  };

  // A line chart on a <canvas>: series [{x:[], y:[], color, label}], hlines [{y, color, label}],
  // bands [{x0, x1, color}] (rep windows), step: draw as points+lines. Returns a redraw function.
  function lineChart(canvas, opts) {
    const dpr = window.devicePixelRatio || 1;
    const W = canvas.clientWidth || 600, H = canvas.clientHeight || 240;
    canvas.width = W * dpr; canvas.height = H * dpr;
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    const pad = { l: 46, r: 14, t: 12, b: 28 };
    const xs = [], ys = [];
    for (const s of opts.series) { s.x.forEach((v, i) => { if (Number.isFinite(v) && Number.isFinite(s.y[i])) { xs.push(v); ys.push(s.y[i]); } }); }
    for (const h of opts.hlines || []) if (Number.isFinite(h.y)) ys.push(h.y);
    if (!xs.length) {
      g.fillStyle = "#5d6b78"; g.font = "14px system-ui, sans-serif"; g.textAlign = "center";
      g.fillText(opts.empty || "No data yet", W / 2, H / 2);
      return;
    }
    let x0 = opts.xmin ?? Math.min(...xs), x1 = opts.xmax ?? Math.max(...xs);
    let y0 = opts.ymin ?? Math.min(...ys), y1 = opts.ymax ?? Math.max(...ys);
    if (x1 === x0) { x0 -= opts.xstep || 1; x1 += opts.xstep || 1; }
    if (y1 === y0) { y0 -= 1; y1 += 1; }
    const ystep = niceStep((y1 - y0) / 5);
    if (opts.ymin === undefined) y0 = Math.floor(y0 / ystep) * ystep;
    if (opts.ymax === undefined) y1 = Math.ceil(y1 / ystep) * ystep;
    if (opts.xpad) { x0 -= opts.xpad; x1 += opts.xpad; }
    const X = (v) => pad.l + ((v - x0) / (x1 - x0)) * (W - pad.l - pad.r);
    const Y = (v) => H - pad.b - ((v - y0) / (y1 - y0)) * (H - pad.t - pad.b);
    for (const b of opts.bands || []) {
      g.fillStyle = b.color; g.fillRect(X(b.x0), pad.t, Math.max(1, X(b.x1) - X(b.x0)), H - pad.t - pad.b);
    }
    g.strokeStyle = "#e3e8ee"; g.lineWidth = 1; g.fillStyle = "#5d6b78"; g.font = "11px system-ui, sans-serif";
    const decimals = ystep < 1 ? Math.ceil(-Math.log10(ystep)) : 0;
    for (let v = Math.ceil(y0 / ystep) * ystep; v <= y1 + 1e-9; v += ystep) {
      const y = Y(v);
      g.beginPath(); g.moveTo(pad.l, y); g.lineTo(W - pad.r, y); g.stroke();
      g.textAlign = "right"; g.fillText(v.toFixed(decimals), pad.l - 6, y + 4);
    }
    g.textAlign = "center";
    const maxTicks = Math.max(2, Math.floor((W - pad.l - pad.r) / 70));
    const xstep = Math.max(opts.xstep || 0, niceStep((x1 - x0) / maxTicks));
    for (let v = Math.ceil(x0 / xstep) * xstep; v <= x1 + 1e-9; v += xstep) {
      g.fillText(opts.xfmt ? opts.xfmt(v) : String(+v.toFixed(2)), X(v), H - 8);
    }
    for (const h of opts.hlines || []) {
      if (!Number.isFinite(h.y)) continue;
      g.save(); g.setLineDash([6, 4]); g.strokeStyle = h.color; g.lineWidth = 1.5;
      g.beginPath(); g.moveTo(pad.l, Y(h.y)); g.lineTo(W - pad.r, Y(h.y)); g.stroke(); g.restore();
      if (h.label) { g.fillStyle = h.color; g.textAlign = "right"; g.fillText(h.label, W - pad.r - 2, Y(h.y) - 4); }
    }
    for (const s of opts.series) {
      g.strokeStyle = s.color; g.fillStyle = s.color; g.lineWidth = s.width || 2;
      g.beginPath(); let pen = false;
      s.x.forEach((xv, i) => {
        const yv = s.y[i];
        if (!Number.isFinite(xv) || !Number.isFinite(yv)) { pen = false; return; }
        if (pen) g.lineTo(X(xv), Y(yv)); else { g.moveTo(X(xv), Y(yv)); pen = true; }
      });
      g.stroke();
      if (s.points) s.x.forEach((xv, i) => { if (Number.isFinite(s.y[i])) { g.beginPath(); g.arc(X(xv), Y(s.y[i]), 3.5, 0, 7); g.fill(); } });
    }
    if (opts.cursor !== undefined && Number.isFinite(opts.cursor)) {
      g.strokeStyle = "#17212b"; g.lineWidth = 1; g.beginPath(); g.moveTo(X(opts.cursor), pad.t); g.lineTo(X(opts.cursor), H - pad.b); g.stroke();
    }
    canvas.onclick = opts.onClick ? (ev) => {
      const r = canvas.getBoundingClientRect();
      opts.onClick(x0 + ((ev.clientX - r.left - pad.l) / (W - pad.l - pad.r)) * (x1 - x0));
    } : null;
  }

  // 1, 2, 5 x 10^k: axis steps people read at a glance
  function niceStep(raw) {
    if (!(raw > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  function legend(host, items) {
    host.replaceChildren(...items.map(([color, label, dashed]) =>
      el("span", {}, el("i", { style: `background:${color};${dashed ? "height:0;border-top:2px dashed " + color : ""}` }), label)));
  }

  function param(name) { return new URLSearchParams(location.search).get(name); }
  function pathId(index) { return decodeURIComponent(location.pathname.split("/").filter(Boolean)[index]); }

  return { api, ApiError, el, me, header, showError, fmt, lineChart, legend, param, pathId, csrfToken, cookie };
})();
