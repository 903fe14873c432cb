"""`make run`'s flow in Chromium: the printed /?token=... address signs the browser in, the token leaves the
address bar, and the pages work under the Content-Security-Policy (issue 8 findings 4 and 12)."""

from __future__ import annotations

import re
import time

PRINTED = re.compile(r"open (http://127\.0\.0\.1:\d+/\?token=\S+)")
UI_TIMEOUT_MS = 20_000


def _printed_address(srv) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = PRINTED.search(srv.log())
        if m:
            return m.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no token address printed:\n{srv.log()[-2000:]}")


def test_printed_address_signs_in_and_the_token_leaves_the_address_bar(start_server, browser) -> None:
    srv = start_server(single_user=True)
    address = _printed_address(srv)
    assert address.endswith(srv.token)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=False)  # the real CSP
    csp_errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(address)
        page.wait_for_url(f"{srv.base_url}/", timeout=UI_TIMEOUT_MS)
        assert "token" not in page.url
        cookie = next(c for c in ctx.cookies() if c["name"] == "fc_token")
        assert cookie["httpOnly"] is True
        assert page.evaluate("document.cookie").find("fc_token") == -1  # not readable by scripts
        me = page.evaluate("fetch('/api/auth/me').then(r => r.json())")
        assert me["named"] is False  # the local person, before giving a name (issue 19)
        for path in ("/", "/upload", "/live"):
            page.goto(f"{srv.base_url}{path}")
            page.wait_for_load_state("networkidle", timeout=UI_TIMEOUT_MS)
            assert page.url == f"{srv.base_url}{path}"
        assert csp_errors == []
        # another browser profile without the token is not "me"
        other = browser.new_context()
        try:
            pg = other.new_page()
            r = pg.request.get(f"{srv.base_url}/api/auth/me")
            assert r.status == 401
        finally:
            other.close()
    finally:
        ctx.close()
