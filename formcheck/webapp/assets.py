"""Where the web assets are: package data found through importlib.resources (so an installed formcheck serves
them too), and the npm packages of the checkout (absent when installed, but for the browser-pose runtime
a wheel vendors at build time: `vendor_path`)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from formcheck.config import checkout_root, load_config, user_data_dir

STATIC_PACKAGE = "formcheck"
STATIC_FOLDER = "static"
PACKAGED_NPM_FOLDER = "vendor_npm"  # what a wheel vendors at build time (setup.py): the tasks-vision runtime


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


def packaged_npm_dir() -> Path:
    """formcheck/vendor_npm inside the installed package: npm files a wheel carries (absent in a checkout)."""
    return Path(str(files(STATIC_PACKAGE) / PACKAGED_NPM_FOLDER))


def vendor_path(rel: str | Path) -> Path:
    """An npm file (path inside node_modules/): from node_modules_dir(), else from the wheel's own copy; the
    node_modules path when neither has it."""
    primary = node_modules_dir() / rel
    if primary.is_file():
        return primary
    packaged = packaged_npm_dir() / rel
    return packaged if packaged.is_file() else primary
