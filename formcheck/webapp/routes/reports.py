"""Clinician exports: a person's sessions and uploads as CSV and as a printable page (the app's one inline script)."""

from __future__ import annotations

import csv
import html
import io
import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from formcheck.store import Person, Store
from formcheck.webapp import repo
from formcheck.webapp.deps import ClinicianPerson, ClinicianUser, ServiceDep, StoreDep
from formcheck.webapp.guards import CSP
from formcheck.webapp.review_queue import action_summary, held

router = APIRouter(tags=["clinician"])


CSV_COLUMNS = (
    "date",
    "source",
    "level",
    "exercises",
    "status",
    "valid_reps",
    "total_reps",
    "valid_rep_ratio",
    "pain_during",
    "pain_after",
    "minutes",
)


def report_rows(store: Store, p: Person) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in sorted(store.session_summaries(p.id), key=lambda s: s.session.started_at):
        exercises = sorted({x.exercise_id for x in store.list_sets(s.session.id)})
        rows.append(
            {
                "date": s.session.day.isoformat(),
                "source": "live session",
                "level": s.session.level,
                "exercises": " ".join(exercises),
                "status": str(s.session.status),
                "valid_reps": s.valid_reps,
                "total_reps": s.total_reps,
                "valid_rep_ratio": f"{s.valid_reps / s.total_reps:.2f}" if s.total_reps else "",
                "pain_during": "" if s.pain_during is None else s.pain_during,
                "pain_after": "" if s.pain_after is None else s.pain_after,
                "minutes": f"{s.exercise_s / 60:.1f}",
            }
        )
    for up in sorted(store.list_uploads(p.id), key=lambda u: u.created_at):
        job = repo.latest_job(store, up.id)
        summary = ((job.result or {}).get("report") or {}).get("summary") or {} if job else {}
        reps, valid = summary.get("reps"), summary.get("valid_reps")
        rows.append(
            {
                "date": up.created_at.date().isoformat(),
                "source": "uploaded video",
                "level": "",
                "exercises": up.exercise_id,
                "status": job.status if job else "queued",
                "valid_reps": "" if valid is None else valid,
                "total_reps": "" if reps is None else reps,
                "valid_rep_ratio": f"{valid / reps:.2f}" if reps else "",
                "pain_during": "",
                "pain_after": "",
                "minutes": "",
            }
        )
    rows.sort(key=lambda r: r["date"])
    return rows


@router.get(
    "/api/clinician/people/{person_id}/report.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def report_csv(p: ClinicianPerson, store: StoreDep) -> Response:
    """One row per live session and per uploaded video: level, reps, valid-rep ratio, pain."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report_rows(store, p))
    safe = "".join(ch if ch.isalnum() else "_" for ch in p.name)
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="formcheck_{safe}.csv"'},
    )


@router.get("/clinician/people/{person_id}/report", response_class=HTMLResponse)
def report_html(p: ClinicianPerson, user: ClinicianUser, store: StoreDep, service: ServiceDep) -> HTMLResponse:
    """The same report as a printable page (print to PDF from the browser)."""
    rows = report_rows(store, p)
    esc = html.escape
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in CSV_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(r[c]))}</td>" for c in CSV_COLUMNS) + "</tr>" for r in rows)
    actions = (
        "".join(
            f"<li><strong>{esc(('rep review' if repo.REP_REVIEW in a.payload else a.kind).replace('_', ' '))}</strong>"
            f" {esc(action_summary(a.kind, a.payload))}"
            f" <span class='muted'>({esc(repo.display_name(store, a.actor_id))}, {a.day.isoformat()})</span></li>"
            for a in store.list_clinician_actions(p.id)
        )
        or "<li class='muted'>None</li>"
    )
    chart = _ratio_svg(rows)
    nonce = secrets.token_urlsafe(16)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Report: {esc(repo.shown_name(p))}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="stylesheet" href="/static/app.css"></head>
<body><main class="page"><div class="page-head"><div><h1>Progress report: {esc(repo.shown_name(p))}</h1>
<p class="muted">Level {service.plan(p).level} · {"progression held" if held(store, p.id) else "progressing"} ·
prepared {datetime.now(UTC).date().isoformat()} by {esc(user.name)}</p></div>
<div class="actions noprint"><button id="print">Print / save as PDF</button></div></div>
<section class="card"><h2>Valid-rep ratio</h2>{chart}</section>
<section class="card"><h2>Sessions and uploads</h2><table class="report"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>
<section class="card"><h2>Clinician changes and notes</h2><ul>{actions}</ul></section></main>
<script nonce="{nonce}">document.getElementById("print").addEventListener("click", () => window.print());</script>
</body></html>"""
    # The one inline script of the app runs under a per-response nonce; everything else stays 'self' only.
    csp = CSP.replace("script-src 'self'", f"script-src 'self' 'nonce-{nonce}'")
    return HTMLResponse(page, headers={"Content-Security-Policy": csp})


def _ratio_svg(rows: list[dict[str, Any]]) -> str:
    pts = [(i, float(r["valid_rep_ratio"])) for i, r in enumerate(rows) if r["valid_rep_ratio"] != ""]
    if not pts:
        return "<p class='muted'>No reps yet.</p>"
    w, h, pad = 720, 160, 24
    n = max(1, len(rows) - 1)
    xy = [(pad + (w - 2 * pad) * i / n, h - pad - (h - 2 * pad) * v) for i, v in pts]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#15803d"/>' for x, y in xy)
    return (
        f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="valid-rep ratio over time">'
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#dde3e9"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{w - pad}" y2="{pad}" stroke="#dde3e9" stroke-dasharray="4 4"/>'
        f'<text x="2" y="{pad + 4}" font-size="11" fill="#5d6b78">1.0</text>'
        f'<text x="2" y="{h - pad + 4}" font-size="11" fill="#5d6b78">0</text>'
        f'<polyline points="{line}" fill="none" stroke="#15803d" stroke-width="2"/>{dots}</svg>'
    )
