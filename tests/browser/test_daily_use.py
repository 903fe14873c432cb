"""Issue 19, a person's daily use in Chromium with a real clip as the camera: the pain stop is inside the first
screen at 1280x800 and 390x844, in a practice set and in a programme day, and Escape works it; an upload's result
explains itself (the report's messages, the rules its view could not check)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

CLIP = "squat_front_valgus_vs_good_ranfit.mp4"  # any real clip: the camera only has to show a person
PASSWORD = "daily use test password"
VIEWPORTS = ((1280, 800), (390, 844))
UI_TIMEOUT_MS = 30_000


def _make_person(data_dir: Path, name: str) -> None:
    from formcheck.store import Store
    from formcheck.store.paths import DB_FILENAME
    from formcheck.webapp.auth import hash_password

    with Store.open(f"sqlite:///{data_dir / DB_FILENAME}") as store:
        store.add_person(name, role="person", password_hash=hash_password(PASSWORD))


def _sign_in(page, base_url: str, name: str) -> None:
    csrf = page.request.get(f"{base_url}/api/auth/csrf").json()["csrf_token"]
    r = page.request.post(
        f"{base_url}/api/auth/signin", data={"name": name, "password": PASSWORD}, headers={"X-CSRF-Token": csrf}
    )
    assert r.ok, r.text()


def _assert_in_first_screen(page, width: int, height: int) -> None:
    stop = page.get_by_test_id("pain-stop")
    stop.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    page.evaluate("window.scrollTo(0, 0)")  # as the page opens (Playwright scrolls to what it clicks)
    box = stop.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= height, (box, width, height)
    assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["height"] >= 44, box  # a large target


@pytest.fixture(scope="module")
def server(start_server):
    srv = start_server()
    _make_person(srv.data_dir, "dailytester")
    return srv


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_pain_stop_is_in_the_first_screen_in_practice_and_in_a_programme_day(
    server, launch_chromium, fake_camera, shared_videos, save_screenshot, width, height
):
    from playwright.sync_api import expect

    cam = fake_camera(shared_videos(CLIP), lead_s=2.0, tail_s=2.0)
    browser = launch_chromium(fake_camera=cam)
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    try:
        _sign_in(page, server.base_url, "dailytester")
        page.goto(f"{server.base_url}/live?exercise=squat&target=10")
        page.wait_for_function("window.fcLive.currentSet && !window.fcLive.pendingSet", timeout=UI_TIMEOUT_MS)
        _assert_in_first_screen(page, width, height)
        save_screenshot(page, f"daily_pain_stop_practice_{width}x{height}", full_page=False)
        page.keyboard.press("Escape")  # the same as the button
        expect(page.locator("#step-title")).to_have_text("Stop. Rest your knee.")
        assert page.evaluate("window.fcLive.currentSet") is None
        expect(page.get_by_test_id("coach")).to_have_text("Stop. Rest your knee.")  # on the stage, in sight
        expect(page.get_by_test_id("pain-stop")).to_be_hidden()
        save_screenshot(page, f"daily_pain_stop_practice_stopped_{width}x{height}", full_page=False)

        page.goto(f"{server.base_url}/live")
        page.get_by_test_id("start-session").click(timeout=UI_TIMEOUT_MS)
        for _ in range(2):  # massage, VMO: then the Small Knee Bend Test, the day's first counting set
            page.get_by_test_id("step-next").click()
        expect(page.locator("#step-title")).to_have_text("Small Knee Bend Test")
        page.wait_for_function("window.fcLive.currentSet && !window.fcLive.pendingSet", timeout=UI_TIMEOUT_MS)
        _assert_in_first_screen(page, width, height)
        save_screenshot(page, f"daily_pain_stop_day_{width}x{height}", full_page=False)
        page.get_by_test_id("pain-stop").click()
        expect(page.locator("#step-title")).to_have_text("Knee pain during the exercises?", timeout=UI_TIMEOUT_MS)
        # what was not done is not struck through as finished (issue 19 item 5): only massage and VMO are done
        assert page.locator("#steps li.done").count() == 2
        stopped = page.locator("#steps li.stopped")
        assert stopped.count() >= 2 and "stopped: knee pain" in stopped.first.inner_text()
        save_screenshot(page, f"daily_pain_stop_day_steps_{width}x{height}", full_page=True)
    except Exception:
        save_screenshot(page, f"daily_pain_stop_failed_{width}x{height}", full_page=True)
        raise
    finally:
        ctx.close()


# Real clips through the real analysis (landmarks from the eval cache, tests/cached_analyzer.py): a plank uploaded
# as squats, and a side-view lunge whose frontal rules cannot be judged from the side.
UPLOADS = (
    ("plank_side_white_wahoo.mp4", "squat", "mostly lying down"),
    ("lunge_side_white_wahoo.mp4", "lunge", "Not checked from this view"),
)


@pytest.fixture(scope="module")
def upload_server(start_server):
    tests_dir = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (tests_dir, os.environ.get("PYTHONPATH", "")) if p)
    srv = start_server(env_extra={"FORMCHECK_ANALYZER": "cached_analyzer:analyse", "PYTHONPATH": path})
    _make_person(srv.data_dir, "uploader")
    return srv


@pytest.mark.parametrize(("clip", "exercise", "expect"), UPLOADS)
@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_upload_result_explains_itself(
    upload_server, browser, shared_videos, save_screenshot, clip, exercise, expect, width, height
):
    from playwright.sync_api import expect as pw_expect

    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    try:
        _sign_in(page, upload_server.base_url, "uploader")
        page.goto(f"{upload_server.base_url}/upload")
        page.wait_for_selector(f"#exercise option[value={exercise}]", state="attached", timeout=UI_TIMEOUT_MS)
        page.set_input_files("#file", str(shared_videos(clip)))
        page.select_option("#exercise", exercise)
        page.click("#submit")
        page.wait_for_url(re.compile(r".*/uploads/\d+$"), timeout=UI_TIMEOUT_MS)
        page.wait_for_selector("#done:not(.hidden)", timeout=120_000)
        shown = page.locator("#done").inner_text()
        assert expect in shown, shown
        if exercise == "lunge":
            blind = page.get_by_test_id("not-checked").inner_text()
            assert "knee valgus" in blind and "pelvic drop" in blind and "face the camera" in blind, blind
            assert "as far as this view shows" in page.locator("#reps tbody").inner_text()
        else:
            pw_expect(page.get_by_test_id("report-messages")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        save_screenshot(page, f"daily_upload_{exercise}_{width}x{height}", full_page=True)
    finally:
        ctx.close()


PRINTED = re.compile(r"open (http://127\.0\.0\.1:\d+/\?token=\S+)")


def _printed_address(srv) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = PRINTED.search(srv.log())
        if m:
            return m.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no token address printed:\n{srv.log()[-2000:]}")


def test_a_relaunched_server_keeps_the_person_in_and_asks_their_name(start_server, browser, save_screenshot):
    """`make run` today and again tomorrow: the same browser is still in (issue 19 item 1), and the person is asked
    for a name instead of being welcomed as "You" (item 4)."""
    from playwright.sync_api import expect

    srv = start_server(single_user=True, env_extra={"FORMCHECK_TOKEN": ""})  # the kept token, as `make run`
    address = _printed_address(srv)
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    desk = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = phone.new_page()
        page.goto(address)
        expect(page.get_by_test_id("name-card")).to_be_visible(timeout=UI_TIMEOUT_MS)
        expect(page.locator("#hello")).to_have_text(re.compile(r"^Welcome( back)?$"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.wait_for_load_state("networkidle")
        expect(page.locator("#name-input")).to_be_focused()
        save_screenshot(page, "daily_name_card_390x844", full_page=False)
        page = desk.new_page()
        page.goto(address)
        page.fill("#name-input", "You")
        page.click("#name-form button[type=submit]")
        expect(page.locator("#name-result")).to_contain_text("not a name")
        page.fill("#name-input", "Ana <b>Souza</b>")
        page.click("#name-form button[type=submit]")
        expect(page.locator("#hello")).to_have_text(re.compile(r"^Welcome( back)?, Ana <b>Souza</b>$"))
        expect(page.get_by_test_id("name-card")).to_be_hidden()
        srv.stop()  # tomorrow
        again = type(srv)(srv.data_dir, srv.log_path.with_name("server2.log"), {"FORMCHECK_TOKEN": ""}, True)
        try:
            assert _printed_address(again).endswith(address.rsplit("=", 1)[1])  # the same address
            page.goto(f"{again.base_url}/")  # yesterday's browser, without the token in the address
            expect(page.locator("#hello")).to_have_text("Welcome back, Ana <b>Souza</b>", timeout=UI_TIMEOUT_MS)
            assert page.url == f"{again.base_url}/"
            save_screenshot(page, "daily_relaunch_still_in_1280x800", full_page=False)
        finally:
            again.stop()
    finally:
        phone.close()
        desk.close()


def test_pain_check_in_has_no_default_and_a_bad_day_says_when_to_seek_help(start_server, browser, save_screenshot):
    """Issue 19 item 9: a stray tap on "Report" records nothing (no preselected 0), and 7/10 says when to see a
    professional (from the programme's unsettled-pain rule)."""
    from playwright.sync_api import expect

    srv = start_server()
    _make_person(srv.data_dir, "checker")
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    try:
        _sign_in(page, srv.base_url, "checker")
        page.goto(f"{srv.base_url}/")
        pain = page.locator("#checkin-pain")
        pain.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
        assert pain.input_value() == ""
        page.click("#checkin button[type=submit]")
        page.wait_for_timeout(500)
        days = page.request.get(f"{srv.base_url}/api/me/progress").json()["days"]
        assert all(d["pain_next_day"] is None for d in days), days
        pain.select_option("7")
        page.click("#checkin button[type=submit]")
        expect(page.locator("#checkin-result")).to_contain_text("Saved (7/10)", timeout=UI_TIMEOUT_MS)
        expect(page.locator("#checkin-result")).to_contain_text("see a physiotherapist or doctor")
        page.locator("#checkin").scroll_into_view_if_needed()
        save_screenshot(page, "daily_checkin_7_390x844", full_page=False)
    finally:
        ctx.close()
