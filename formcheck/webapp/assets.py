"""Where the web assets are: package data found through importlib.resources (so an installed formcheck serves
them too), and the npm packages of the checkout (absent when installed)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from formcheck.config import checkout_root, load_config, user_data_dir

STATIC_PACKAGE = "formcheck"
STATIC_FOLDER = "static"


def static_dir() -> Path:
    """formcheck/static inside the installed package (a plain directory: formcheck is never installed zipped)."""
    return Path(str(files(STATIC_PACKAGE) / STATIC_FOLDER))


def node_modules_dir() -> Path:
    """FORMCHECK_NODE_MODULES, else the checkout's top-level node_modules/ (`make setup`). An installed formcheck
    (no checkout) looks in the per-user data dir's node_modules/, normally absent: the pages then degrade (server
    pose, tables instead of charts)."""
    configured = load_config().node_modules
    if configured is not None:
        return configured
    root = checkout_root()
    return root / "node_modules" if root is not None else user_data_dir() / "node_modules"
