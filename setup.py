"""Build hook: a wheel carries the browser-pose runtime (issue 20).

`python -m build` / `pip wheel .` fetch `@mediapipe/tasks-vision` from npm at the version package.json pins and put
only the files the app serves (the ES bundle and the WASM module the pose worker loads: no README, sources, type
declarations or source maps) into the package as formcheck/vendor_npm/@mediapipe/tasks-vision/, where an
installed formcheck finds them (formcheck.webapp.assets.vendor_path). An editable install (`make setup`) skips it:
a checkout serves node_modules/. A source tree without package.json (a copy of the package alone) builds without
them, and says so; npm missing or failing fails the build, so a wheel is never silently incomplete.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PACKAGE = "@mediapipe/tasks-vision"
# formcheck/webapp/live/browser_pose.py TASKS_VISION_FILES (tests/test_wheel.py checks they match)
FILES = ("vision_bundle.mjs", "wasm/vision_wasm_module_internal.js", "wasm/vision_wasm_module_internal.wasm")
TARGET = Path("formcheck") / "vendor_npm" / "@mediapipe" / "tasks-vision"
NPM_TIMEOUT_S = 300


def vendor_tasks_vision(dest: Path) -> None:
    """Fetch the pinned tasks-vision tarball with `npm pack` and copy FILES into `dest`."""
    pins = json.loads((HERE / "package.json").read_text())["dependencies"]
    version = pins[PACKAGE]
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(f"building formcheck needs npm to vendor {PACKAGE}@{version} (apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [npm, "pack", f"{PACKAGE}@{version}", "--pack-destination", tmp, "--silent"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            raise SystemExit(f"npm pack {PACKAGE}@{version} failed: {done.stderr.strip()[-500:]}")
        with tarfile.open(tarballs[0]) as tar:
            meta = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
            if meta.get("version") != version:
                raise SystemExit(f"npm gave {PACKAGE}@{meta.get('version')}, package.json pins {version}")
            for rel in FILES:
                member = tar.extractfile(f"package/{rel}")
                if member is None:
                    raise SystemExit(f"{PACKAGE}@{version} has no {rel}")
                out = dest / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(member.read())
    sys.stderr.write(f"vendored {PACKAGE}@{version} ({', '.join(FILES)}) into the package\n")


class BuildWithBrowserRuntime(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if not (HERE / "package.json").is_file():
            sys.stderr.write(f"no package.json: building without {PACKAGE} (pose in the browser off)\n")
            return
        vendor_tasks_vision(Path(self.build_lib) / TARGET)


setup(cmdclass={"build_py": BuildWithBrowserRuntime})
