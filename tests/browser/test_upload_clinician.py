"""Upload-for-review and clinician review in Debian's Chromium against a real `formcheck serve`.

A person uploads a real labelled clip and sees the per-rep table once the background job (real pose + analysis
in a worker process) is done; a clinician signs in, opens a flagged rep and records a verdict, which the person
then sees. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# 6.5 s side-view squat, 2 labelled reps, both with forward lean: short (the job runs MediaPipe on it) and flagged.
CLIP = "squat_side_bad_forwardlean_formguard.mp4"
JOB_TIMEOUT_MS = 240_000  # pose on every frame in a worker process, on a shared 2-core VM
UI_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def clinic_server(start_server):
    """A server with its own data dir, seeded with the demo clinic (dr_lee cares for alex)."""
    from formcheck.store import Store
    from formcheck.store.paths import DB_FILENAME
    from formcheck.webapp.demo import seed_clinic

    srv = start_server()
    with Store.open(f"sqlite:///{srv.data_dir / DB_FILENAME}") as store:
        clinic = seed_clinic(store)
    return srv, clinic


def sign_in(page, base_url: str, path: str, name: str, password: str) -> None:
    page.goto(f"{base_url}{path}")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#submit")


def test_upload_shows_the_per_rep_table(clinic_server, page, shared_videos, shared_manifest, save_screenshot) -> None:
    srv, clinic = clinic_server
    video: Path = shared_videos(CLIP)
    label = shared_manifest(CLIP)
    # anonymous: the page answers 401 and forwards the browser to sign-in, which returns to the page after
    page.goto(f"{srv.base_url}/upload")
    page.wait_for_url(f"{srv.base_url}/signin?next=/upload", timeout=UI_TIMEOUT_MS)
    page.fill("#name", "alex")
    page.fill("#password", clinic.password)
    page.click("#submit")
    page.wait_for_url(f"{srv.base_url}/upload", timeout=UI_TIMEOUT_MS)
    page.goto(f"{srv.base_url}/")
    page.wait_for_selector("#uploads li", timeout=UI_TIMEOUT_MS)
    save_screenshot(page, "web_home_person")

    page.click("text=Upload a video")
    page.wait_for_selector("#exercise option[value=squat]", state="attached", timeout=UI_TIMEOUT_MS)
    # a file that is not a video: a clear message on the page, and the person stays on the form
    page.set_input_files(
        "#file", files=[{"name": "notes.mp4", "mimeType": "video/mp4", "buffer": b"just some text" * 50}]
    )
    page.click("#submit")
    page.wait_for_selector("#error:not(.hidden)", timeout=UI_TIMEOUT_MS)
    assert "not a video" in page.locator("#error").inner_text()
    save_screenshot(page, "web_upload_not_a_video")
    page.set_input_files("#file", str(video))
    page.select_option("#exercise", "squat")
    save_screenshot(page, "web_upload_form")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/uploads/\d+$"), timeout=UI_TIMEOUT_MS)
    save_screenshot(page, "web_upload_progress")

    page.wait_for_selector("#reps tbody tr[data-rep]", timeout=JOB_TIMEOUT_MS)
    rows = page.locator("#reps tbody tr[data-rep]")
    assert abs(rows.count() - label["reps"]) <= 1, f"{rows.count()} reps in the table, labelled {label['reps']}"
    assert page.locator("#reps .pill.invalid").count() >= 1  # this clip's reps lean forward
    assert page.locator("#reps .fault").first.inner_text().strip() != ""
    # click the last rep: the player jumps to its start
    last = rows.nth(rows.count() - 1)
    start_s = float(last.get_attribute("data-start"))
    last.click()
    page.wait_for_function(
        f"Math.abs(document.getElementById('player').currentTime - {start_s}) < 0.6", timeout=UI_TIMEOUT_MS
    )
    assert page.evaluate("document.getElementById('player').src").endswith("/annotated")
    page.evaluate("document.getElementById('player').pause()")
    assert page.locator("#chart").bounding_box()["height"] > 100
    save_screenshot(page, "web_upload_result")


def test_clinician_reviews_a_flagged_rep(clinic_server, browser, save_screenshot) -> None:
    srv, clinic = clinic_server
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        sign_in(page, srv.base_url, "/clinician/signin", "dr_lee", clinic.password)
        page.wait_for_url(f"{srv.base_url}/clinician", timeout=UI_TIMEOUT_MS)
        page.wait_for_selector("#people tbody tr.clickable", timeout=UI_TIMEOUT_MS)
        assert page.locator("#people tbody tr.clickable").count() == 2  # Alex and Kim, not Dr Park's Sam
        save_screenshot(page, "web_clinician_people")

        page.click("text=Review flagged reps")
        page.wait_for_selector("#queue[data-loaded] .queue-item", timeout=UI_TIMEOUT_MS)
        page.wait_for_function(
            "[...document.querySelectorAll('.queue-item img')].slice(0, 3).every(i => i.complete)",
            timeout=UI_TIMEOUT_MS,
        )
        n_open = page.locator(".queue-item").count()
        save_screenshot(page, "web_clinician_queue")

        item = page.locator(".queue-item").first
        key = item.get_attribute("data-rep")
        item.locator("a.button").click()
        # the queue's filters ride along in the query string (for previous / next rep)
        page.wait_for_url(re.compile(rf".*/clinician/reps/{re.escape(key)}(\?.*)?$"), timeout=UI_TIMEOUT_MS)
        page.wait_for_selector("#faults .fault, #faults p", timeout=UI_TIMEOUT_MS)
        page.fill("#note", "Chest drops forward at the bottom: sit back onto your heels and keep the chest up.")
        page.click("[data-testid=agree]")
        page.wait_for_selector("#saved:not(.hidden)", timeout=UI_TIMEOUT_MS)
        assert "You agreed with the flag" in page.locator("[data-testid=review]").inner_text()
        save_screenshot(page, "web_clinician_rep")

        page.goto(f"{srv.base_url}/clinician/queue")
        page.wait_for_selector("#queue[data-loaded]", timeout=UI_TIMEOUT_MS)
        assert page.locator(".queue-item").count() == n_open - 1

        page.goto(f"{srv.base_url}/clinician/people/{clinic.alex_id}")
        page.wait_for_selector("#sessions tbody tr", timeout=UI_TIMEOUT_MS)
        page.wait_for_timeout(300)
        save_screenshot(page, "web_clinician_person")

        page.goto(f"{srv.base_url}/clinician/people/{clinic.alex_id}/report")
        assert "Progress report: Alex" in page.locator("h1").inner_text()
        # the 3 seeded live sessions, plus the uploaded video when the upload test above ran (it needs ../shared)
        assert page.locator("tbody tr").count() >= 3
        save_screenshot(page, "web_clinician_report")
    finally:
        ctx.close()

    # the person sees the verdict on their start page
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        sign_in(page, srv.base_url, "/signin", "alex", clinic.password)
        page.wait_for_selector("#reviews .note", timeout=UI_TIMEOUT_MS)
        assert "sit back onto your heels" in page.locator("#reviews").inner_text()
        save_screenshot(page, "web_home_person_with_note")
    finally:
        ctx.close()
