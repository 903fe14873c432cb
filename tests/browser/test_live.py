"""The live coach in Debian's Chromium: a real exercise video plays as the webcam; reps are counted and cued."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

# A front-view squat clip with a clear label: 7 reps, knees caving in on reps 1-3 (so there are real cues to show),
# a portrait phone video that fits the 640x480 camera frame with grey bars. Alternatives with labels that also
# count right at browser frame rates: squat_side_lowcam_yuyoujiang.mp4 (3 reps, side view).
CLIP = "squat_front_valgus_vs_good_ranfit.mp4"
EXERCISE = "squat"
LEAD_S = 7.0  # first frame held still: the page connects, the model warms up and the 3-2-1 runs (issue 11)
TAIL_S = 5.0  # last frame held still: the final rep completes, and the looping camera does not restart the clip
PASSWORD = "live page test password"
REP_TOLERANCE = 1  # issue 5: within ±1 of the label


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


@pytest.fixture(scope="module")
def server(start_server):
    srv = start_server()
    _make_person(srv.data_dir, "livetester")
    return srv


# Issue 16: a side-on squat (the far knee hidden behind the body, visibility ~0.45) counted 0 reps in 62 s because
# the gate wanted both legs; a side view must count like the upload does (10/10).
SIDE_CLIP = "squat_side_white_wahoo.mp4"


@pytest.mark.parametrize(("clip", "expect_cues"), [(CLIP, True), (SIDE_CLIP, False)])
def test_live_page_counts_real_video_reps_and_cues(
    server, launch_chromium, fake_camera, shared_videos, shared_manifest, save_screenshot, clip, expect_cues
):
    entry = shared_manifest(clip)
    assert entry["exercise"] == EXERCISE and entry["camera_view"] in ("front", "side") and entry["reps"]
    cam = fake_camera(shared_videos(clip), lead_s=LEAD_S, tail_s=TAIL_S)
    browser = launch_chromium(fake_camera=cam)
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    foreign: list[str] = []
    page.on(
        "request",
        lambda r: (
            foreign.append(r.url)
            if not r.url.startswith((server.base_url, "ws://127.0.0.1", "data:", "blob:"))
            else None
        ),
    )
    try:
        _sign_in(page, server.base_url, "livetester")
        page.goto(f"{server.base_url}/live?exercise={EXERCISE}&target={entry['reps']}")
        page.wait_for_function("window.fcLive && window.fcLive.cameraStartedAt !== undefined", timeout=20000)
        page.wait_for_function("window.fcLive.replies > 0", timeout=30000)
        play_s = LEAD_S + entry["duration_s"] + TAIL_S * 0.6  # one pass of the looping fake camera
        shot_cue = shot_flash = None
        while True:
            elapsed_s = page.evaluate("(performance.now() - window.fcLive.cameraStartedAt) / 1000")
            if elapsed_s >= play_s:
                break
            if shot_cue is None and page.evaluate(
                "['rep_fault', 'live_fault'].includes(document.getElementById('coach').dataset.kind)"
            ):
                shot_cue = save_screenshot(page, f"live_page_cue_{entry['camera_view']}", full_page=False)
            if shot_flash is None and page.evaluate("!document.getElementById('flash').classList.contains('hidden')"):
                shot_flash = save_screenshot(page, f"live_page_rep_flash_{entry['camera_view']}", full_page=False)
            time.sleep(0.25)
        state = page.evaluate("""() => ({reps: fcLive.repCount, valid: fcLive.validCount, replies: fcLive.replies,
            frames: fcLive.frames, cues: fcLive.cuesSeen, newReps: fcLive.newReps.length, errors: fcLive.errors,
            rtts: fcLive.rtts.slice().sort((a, b) => a - b), cameraError: fcLive.cameraError,
            gaps: fcLive.clientGaps.slice().sort((a, b) => a - b), enc: fcLive.encodeMs.slice().sort((a, b) => a - b)})""")
        shown_count = page.inner_text("[data-testid=rep-count]")
        shown_target = page.inner_text("[data-testid=rep-target]")
        cue_text = page.inner_text("[data-testid=coach]")
        shot_end = save_screenshot(page, f"live_page_end_{entry['camera_view']}", full_page=False)
    finally:
        ctx.close()
    fps = state["replies"] / (play_s - LEAD_S + 2.0)
    med_rtt = state["rtts"][len(state["rtts"]) // 2] if state["rtts"] else None
    info = (
        f"label {entry['reps']}, counted {state['reps']} ({state['valid']} valid), {state['replies']} replies"
        f" (~{fps:.1f}/s, median RTT {med_rtt and round(med_rtt)} ms), cues {state['cues']},"
        f" client gap median {state['gaps'] and round(state['gaps'][len(state['gaps']) // 2])} ms,"
        f" encode median {state['enc'] and round(state['enc'][len(state['enc']) // 2])} ms,"
        f" errors {state['errors']}, screenshots {shot_cue} {shot_flash} {shot_end}\n" + "\n".join(console[-20:])
    )
    assert state["cameraError"] is None, info
    assert abs(state["reps"] - entry["reps"]) <= REP_TOLERANCE, info
    assert state["newReps"] == state["reps"], info  # every counted rep was flashed
    assert shown_count == str(state["valid"]) and shown_target == str(entry["reps"]), info
    if expect_cues:
        assert state["cues"], f"no coaching cue was shown: {info}"
    assert cue_text.strip(), info
    assert state["errors"] == [], info
    assert foreign == [], f"the page fetched from other origins (must work offline): {foreign}"
    assert (shot_cue is not None or not expect_cues) and shot_flash is not None, info
    assert shot_end.stat().st_size > 10_000, info
    print(info.splitlines()[0])


def test_refused_camera_shows_a_clear_message(server, launch_chromium, save_screenshot):
    # No fake-UI flag: Chromium's headless permission prompt is dismissed, so getUserMedia is refused.
    browser = launch_chromium(extra_args=("--use-fake-device-for-media-stream", "--deny-permission-prompts"))
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        _sign_in(page, server.base_url, "livetester")
        page.goto(f"{server.base_url}/live?exercise=squat&target=5")
        page.wait_for_function("window.fcLive && window.fcLive.cameraError !== null", timeout=20000)
        msg = page.inner_text("[data-testid=camera-message]")
        shot = save_screenshot(page, "live_page_camera_refused", full_page=False)
    finally:
        ctx.close()
    assert "Camera access was refused." in msg
    assert "Allow the camera" in msg
    assert shot.exists()


def test_live_page_redirects_to_sign_in_when_anonymous(server, browser):
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"{server.base_url}/live")
        page.wait_for_url("**/signin**", timeout=10_000)  # the 401 page forwards to sign-in
        assert "next=" in page.url and "live" in page.url
    finally:
        ctx.close()


MANNEQUIN_SKB = Path(__file__).resolve().parents[2] / "fixtures" / "videos" / "small_knee_bend_front_clean.mp4"


def test_day_flow_readiness_knee_bend_test_sets_and_pain(start_server, launch_chromium, fake_camera, save_screenshot):
    """The day's flow: massage → VMO → Small Knee Bend Test (camera + pain) → exercises → pain → stored."""
    from playwright.sync_api import expect

    if not MANNEQUIN_SKB.exists():
        pytest.skip(f"{MANNEQUIN_SKB} not generated yet (python -m tools.synth)")
    from formcheck.store import Store
    from formcheck.store.paths import DB_FILENAME

    srv = start_server()
    _make_person(srv.data_dir, "flowtester")
    cam = fake_camera(MANNEQUIN_SKB, lead_s=2.0, tail_s=30.0)
    browser = launch_chromium(fake_camera=cam)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    shots = []
    try:
        _sign_in(page, srv.base_url, "flowtester")
        page.goto(f"{srv.base_url}/live")
        page.get_by_test_id("start-session").click(timeout=20000)
        expect(page.locator("#step-title")).to_have_text("Massage the tight muscles")
        shots.append(save_screenshot(page, "live_flow_1_massage", full_page=False))
        page.get_by_test_id("step-next").click()
        expect(page.locator("#step-title")).to_contain_text("VMO")
        page.get_by_test_id("step-next").click()
        expect(page.locator("#step-title")).to_have_text("Small Knee Bend Test")
        page.wait_for_function("window.fcLive.newReps.length >= 2", timeout=120000)  # after the 3-2-1
        shots.append(save_screenshot(page, "live_flow_2_knee_bend_test", full_page=False))
        page.get_by_test_id("skb-done").click()
        expect(page.locator("#step-title")).to_have_text("Any knee pain during the test?")
        page.get_by_test_id("pain-0").click()
        expect(page.locator("#step-kicker")).to_have_text("Exercise", ignore_case=True, timeout=20000)
        first_title = page.inner_text("#step-title")
        shots.append(save_screenshot(page, "live_flow_3_exercise_intro", full_page=False))
        page.get_by_test_id("start-set").click()
        page.wait_for_function("window.fcLive.currentSet && !window.fcLive.pendingSet", timeout=20000)
        assert page.inner_text("[data-testid=rep-target]") != "–"
        shots.append(save_screenshot(page, "live_flow_4_set", full_page=False))
        for _ in range(10):  # skip the remaining exercises to reach the end of the day
            if page.text_content("#step-kicker") == "Finish":
                break
            page.get_by_test_id("skip-exercise").click()
        expect(page.locator("#step-title")).to_have_text("Knee pain during the exercises?")
        page.get_by_test_id("pain-1").click()
        expect(page.locator("#step-title")).to_have_text("And right now?")
        page.get_by_test_id("pain-0").click()
        page.wait_for_selector("[data-testid=summary-table]", timeout=20000)
        shots.append(save_screenshot(page, "live_flow_5_done", full_page=False))
    except Exception:
        save_screenshot(page, "live_flow_failed", full_page=True)
        raise
    finally:
        ctx.close()
    with Store.open(f"sqlite:///{srv.data_dir / DB_FILENAME}") as store:
        person = store.get_person("flowtester")
        sessions = store.list_sessions(person.id)
        readiness = store.list_readiness(person.id)
        pains = {p.kind: p.pain for p in store.list_pain(person.id)}
        sets = store.list_sets(sessions[0].id)
    assert [str(s.status) for s in sessions] == ["finished"]
    assert [(r.massage_done, r.vmo_done, r.skbt_verdict, r.skbt_pain) for r in readiness] == [(True, True, "valid", 0)]
    assert pains == {"during": 1, "after": 0}
    assert (
        len(sets) == 1
        and sets[0].ended_at is not None
        and first_title.startswith(sets[0].exercise_id.split("_")[0].capitalize())
    )
    assert all(p.stat().st_size > 10_000 for p in shots)


def test_placement_guidance_when_the_body_is_cut_off(
    server, launch_chromium, fake_camera, shared_videos, save_screenshot
):
    """A camera that cuts off the legs: the page shows "Step back" over the camera image. (A head cut off is no
    reason: a squat's count and rules need the legs and trunk, and side-on one leg of them; issue 16.)"""
    cam = fake_camera(
        shared_videos("squat_oblique_outdoor_legs_cropped_vishalpatill.mp4"), lead_s=1.0, tail_s=1.0, end_s=8.0
    )
    browser = launch_chromium(fake_camera=cam)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    try:
        _sign_in(page, server.base_url, "livetester")
        page.goto(f"{server.base_url}/live?exercise=squat&target=3")
        page.wait_for_function(
            "document.getElementById('coach').dataset.kind === 'placement'"
            " && document.getElementById('coach').textContent.startsWith('Step back')",
            timeout=30000,
        )
        shot = save_screenshot(page, "live_page_placement", full_page=False)
        text = page.inner_text("[data-testid=coach]")
    finally:
        ctx.close()
    assert text.startswith("Step back") and "whole body" in text
    assert shot.stat().st_size > 10_000
