"""Pose model provisioning: build, cache and verify MediaPipe PoseLandmarker `.task` bundles offline.

mediapipe >= 1.2 ships no pose model. The legacy solution's .tflite files are still on the package registries
(PyPI wheel mediapipe 0.10.21; npm @mediapipe/pose). They carry no TFLite metadata, which mediapipe 1.2 needs
for float inputs, so we add ModelMetadata (ImageProperties RGB + NormalizationOptions) and zip the pair into a
bundle, deterministically (fixed timestamps, stored entries, 64-byte aligned data so TFLite maps it in place).

This module reads mediapipe's *generated flatbuffer schema classes* (pure Python, no runtime); pose.py stays
the only module that imports the mediapipe runtime.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from importlib.resources import files
from pathlib import Path
from typing import Any

from formcheck.config import checkout_root, env_name, load_config, user_data_dir
from formcheck.errors import PoseModelError

log = logging.getLogger(__name__)

ENV_MODEL = env_name("pose_model")  # path to any other .task bundle (e.g. Google's pose_landmarker_full.task)
ENV_MODELS_DIR = env_name("models_dir")  # where bundles are cached (default: the checkout's models/)
MANIFEST_NAME = "models.toml"  # package data beside this module: sources and sha256 of every bundle
VARIANTS = ("lite", "full", "heavy")
OFFICIAL_URL = "https://storage.googleapis.com/mediapipe-models/pose_landmarker/pose_landmarker_{v}/float16/latest/pose_landmarker_{v}.task"

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamp: same bytes every build
ZIP_ALIGN_BYTES = 64  # data alignment inside the bundle; TFLite needs >= 4 to use the buffer without copying
ZIPALIGN_EXTRA_ID = 0xD935  # the extra-field id Android's zipalign uses for padding
DETECTOR_NAME = "pose_detector.tflite"
LANDMARKER_NAME = "pose_landmarks_detector.tflite"


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What pose estimation runs with: recorded with every result so reports stay explainable."""

    path: Path
    sha256: str
    variant: str  # lite | full | heavy | custom


def models_dir() -> Path:
    """FORMCHECK_MODELS_DIR, else the checkout's models/ (`make model`), else the per-user data dir's models/."""
    configured = load_config().models_dir
    if configured is not None:
        return configured
    root = checkout_root()
    return root / "models" if root is not None else user_data_dir() / "models"


def _manifest() -> dict[str, Any]:
    resource = files(__package__ or "formcheck.media") / MANIFEST_NAME
    try:
        return tomllib.loads(resource.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PoseModelError(f"cannot read the model manifest {resource}: {exc}") from exc


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bundle_path(variant: str) -> Path:
    return models_dir() / f"pose_{variant}.task"


# ---------------------------------------------------------------------------------------------- sources


def _fetch_pypi_wheel(src: dict[str, Any], cache: Path) -> Path:
    """Download (once) the old mediapipe wheel that holds the legacy .tflite files; pip only, no internet beyond PyPI."""
    name, version = src["package"].split("==")
    found = sorted(cache.glob(f"{name}-{version}-*.whl"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        src["python_version"],
        "--platform",
        src["platform"],
        "-d",
        str(cache),
        src["package"],
    ]
    log.info("downloading %s from the package index", src["package"])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(cache.glob(f"{name}-{version}-*.whl"))
    if proc.returncode != 0 or not found:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PoseModelError(
            f"could not download {src['package']} with pip ({tail[0]}); "
            f"set {ENV_MODEL} to a pose_landmarker .task file instead"
        )
    return found[0]


def _fetch_npm_package(src: dict[str, Any], cache: Path) -> Path:
    """Download (once) the npm tarball with the lite/heavy landmark models (`npm pack`, registry only)."""
    found = sorted(cache.glob("mediapipe-pose-*.tgz"))
    if found:
        return found[0]
    npm = shutil.which("npm")
    if npm is None:
        raise PoseModelError(
            "the lite and heavy models come from the npm registry, but npm is not installed; "
            "install Node.js/npm or use --model full"
        )
    cache.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([npm, "pack", src["package"], "--silent"], cwd=cache, capture_output=True, text=True)
    found = sorted(cache.glob("mediapipe-pose-*.tgz"))
    if proc.returncode != 0 or not found:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PoseModelError(f"npm could not fetch {src['package']} ({tail[0]}); use --model full")
    return found[0]


def _read_member(archive: Path, member: str) -> bytes:
    try:
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as z:
                return z.read(member)
        with tarfile.open(archive, "r:gz") as t:
            f = t.extractfile(member)
            if f is None:
                raise KeyError(member)
            return f.read()
    except (KeyError, zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise PoseModelError(f"{archive.name} does not contain {member} ({exc}); delete {archive} and retry") from exc


def _source_bytes(entry: dict[str, Any], manifest: dict[str, Any], cache: Path) -> bytes:
    src_name = entry["source"]
    src = manifest["sources"][src_name]
    archive = _fetch_pypi_wheel(src, cache) if src_name == "pypi_wheel" else _fetch_npm_package(src, cache)
    data = _read_member(archive, entry["path"])
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise PoseModelError(
            f"{entry['path']} in {archive.name} has sha256 {digest[:12]}…, expected "
            f"{entry['sha256'][:12]}…; delete {archive} and retry"
        )
    return data


# ---------------------------------------------------------------------------------------------- metadata


def add_image_metadata(tflite: bytes, mean: float, std: float, name: str) -> bytes:
    """Return `tflite` with a TFLITE_METADATA buffer describing its RGB image input and its normalisation."""
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as mdf
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    props = mdf.ImagePropertiesT()
    props.colorSpace = mdf.ColorSpaceType.RGB
    content = mdf.ContentT()
    content.contentPropertiesType = mdf.ContentProperties.ImageProperties
    content.contentProperties = props
    norm = mdf.NormalizationOptionsT()
    norm.mean = [float(mean)]
    norm.std = [float(std)]
    unit = mdf.ProcessUnitT()
    unit.optionsType = mdf.ProcessUnitOptions.NormalizationOptions
    unit.options = norm
    tensor = mdf.TensorMetadataT()
    tensor.name = "image"
    tensor.content = content
    tensor.processUnits = [unit]
    subgraph = mdf.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [tensor]
    meta = mdf.ModelMetadataT()
    meta.name = name
    meta.description = "BlazePose model with input metadata added by formcheck"
    meta.minParserVersion = "1.0.0"
    meta.subgraphMetadata = [subgraph]
    b = flatbuffers.Builder(1024)
    b.Finish(meta.Pack(b), file_identifier=b"M001")
    meta_bytes = bytes(b.Output())

    model = tfl.ModelT.InitFromPackedBuf(bytearray(tflite), 0)
    model.metadata = [m for m in (model.metadata or []) if m.name not in (b"TFLITE_METADATA", "TFLITE_METADATA")]
    buf = tfl.BufferT()
    buf.data = list(meta_bytes)
    model.buffers.append(buf)
    entry = tfl.MetadataT()
    entry.name = "TFLITE_METADATA"
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    out = flatbuffers.Builder(len(tflite) + 4096)
    out.Finish(model.Pack(out), file_identifier=b"TFL3")
    return bytes(out.Output())


def write_aligned_zip(path: Path, entries: list[tuple[str, bytes]]) -> None:
    """A zip with stored (uncompressed) entries whose data start on ZIP_ALIGN_BYTES boundaries, fixed timestamps."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            header_end = raw.tell() + 30 + len(name.encode()) + 4  # local header + name + our extra's own header
            pad = (-header_end) % ZIP_ALIGN_BYTES
            info.extra = ZIPALIGN_EXTRA_ID.to_bytes(2, "little") + pad.to_bytes(2, "little") + b"\0" * pad
            z.writestr(info, data)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(raw.getvalue())
    tmp.replace(path)


def build_bundle(variant: str = "full", out: Path | None = None) -> Path:
    """Build pose_<variant>.task from registry files; the same bytes every time."""
    if variant not in VARIANTS:
        raise PoseModelError(f"unknown model variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    manifest = _manifest()
    cache = models_dir() / "cache"
    det_entry, lm_entry = manifest["detector"], manifest["variants"][variant]
    detector = add_image_metadata(
        _source_bytes(det_entry, manifest, cache), det_entry["input_mean"], det_entry["input_std"], "pose_detector"
    )
    landmarker = add_image_metadata(
        _source_bytes(lm_entry, manifest, cache),
        lm_entry["input_mean"],
        lm_entry["input_std"],
        f"pose_landmarks_detector_{variant}",
    )
    out = out or bundle_path(variant)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_aligned_zip(out, [(DETECTOR_NAME, detector), (LANDMARKER_NAME, landmarker)])
    log.info("built %s (%s)", out, sha256_file(out))
    return out


def expected_bundle_sha256(variant: str) -> str:
    return str(_manifest()["variants"][variant].get("bundle_sha256", ""))


def check_bundle_file(path: Path) -> None:
    """Reject anything that is not a pose .task zip before mediapipe sees it (its errors are C++ aborts)."""
    if not path.is_file():
        raise PoseModelError(f"pose model {path} does not exist")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise PoseModelError(f"pose model {path} is not a valid .task bundle ({exc})") from exc
    if not {DETECTOR_NAME, LANDMARKER_NAME} <= names:
        raise PoseModelError(
            f"pose model {path} is not a pose landmarker bundle (needs {DETECTOR_NAME} and {LANDMARKER_NAME})"
        )


def ensure_model(variant: str | None = None, *, build: bool = True) -> ModelInfo:
    """The model to use: $FORMCHECK_POSE_MODEL if set, else the cached bundle (built on first use), sha-checked."""
    configured = load_config().pose_model
    if configured is not None:
        path = configured
        check_bundle_file(path)
        return ModelInfo(path=path, sha256=sha256_file(path), variant="custom")
    variant = variant or _manifest().get("default", "full")
    if variant not in VARIANTS:
        raise PoseModelError(f"unknown model variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    path = bundle_path(variant)
    expected = expected_bundle_sha256(variant)
    if path.is_file():
        digest = sha256_file(path)
        if not expected or digest == expected:
            return ModelInfo(path=path, sha256=digest, variant=variant)
        log.warning("%s has sha256 %s, expected %s: rebuilding", path, digest, expected)
    if not build:
        raise PoseModelError(
            f"no pose model at {path}; run `formcheck models --build` "
            f"or set {ENV_MODEL} to a .task file ({OFFICIAL_URL.format(v=variant)})"
        )
    with tempfile.TemporaryDirectory(dir=path.parent if path.parent.exists() else None) as tmp:
        built = build_bundle(variant, Path(tmp) / path.name)
        digest = sha256_file(built)
        if expected and digest != expected:
            raise PoseModelError(
                f"built {path.name} has sha256 {digest}, expected {expected}: "
                f"the inputs or the builder changed; set {ENV_MODEL} to use another bundle"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(built), path)
    return ModelInfo(path=path, sha256=digest, variant=variant)
