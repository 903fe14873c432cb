"""Shared test fixtures: where the real labelled clips are, and small videos written on the fly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_VIDEOS = REPO.parent / "shared" / "videos"
FIXTURE_VIDEOS = REPO / "fixtures" / "videos"


def shared_manifest() -> list[dict]:
    """The labelled real clips, or a skip with the reason when ../shared is absent."""
    manifest = SHARED_VIDEOS / "manifest.json"
    if not manifest.is_file():
        pytest.skip(f"real labelled clips not available: {manifest} is absent (../shared is not beside the repo)")
    return json.loads(manifest.read_text())["videos"]


@pytest.fixture
def manifest() -> list[dict]:
    return shared_manifest()


# A throwaway PostgreSQL cluster, started once per session only by tests that ask for it.
from tests.pg_fixture import pg_server, pg_url, store_url  # noqa: E402,F401
