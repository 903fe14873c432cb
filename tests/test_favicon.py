"""Every page names its icon, and it is served (no favicon 404 in the console, issue 20)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from formcheck.webapp.app import create_app
from tests.test_web_upload import make_settings

ICON = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'


def test_pages_link_a_served_favicon(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        page = client.get("/signin")
        assert page.status_code == 200 and ICON in page.text
        icon = client.get("/static/favicon.svg")
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    live = Path(__file__).resolve().parents[1] / "formcheck" / "static" / "live.html"
    assert ICON in live.read_text()
