"""Pose model provisioning: deterministic, aligned bundles; bad bundles rejected with one line."""

from __future__ import annotations

import zipfile

import pytest

from formcheck.errors import PoseModelError
from formcheck.media import models


def test_aligned_zip_is_deterministic_stored_and_aligned(tmp_path):
    entries = [("a.tflite", b"x" * 1001), ("pose_landmarks_detector.tflite", bytes(range(256)) * 7)]
    p1, p2 = tmp_path / "1.task", tmp_path / "2.task"
    models.write_aligned_zip(p1, entries)
    models.write_aligned_zip(p2, entries)
    assert p1.read_bytes() == p2.read_bytes()
    with zipfile.ZipFile(p1) as z:
        for info in z.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.date_time == models.ZIP_EPOCH
            data_offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
            assert data_offset % models.ZIP_ALIGN_BYTES == 0
            assert z.read(info.filename) == dict(entries)[info.filename]


def test_full_bundle_builds_to_the_recorded_sha256_twice(tmp_path):
    """Same bytes every build, equal to models.toml (needs the registry wheel, cached by `make setup`)."""
    a = models.build_bundle("full", tmp_path / "a.task")
    b = models.build_bundle("full", tmp_path / "b.task")
    assert models.sha256_file(a) == models.sha256_file(b) == models.expected_bundle_sha256("full")
    with zipfile.ZipFile(a) as z:
        assert sorted(z.namelist()) == [models.DETECTOR_NAME, models.LANDMARKER_NAME]


def test_metadata_carries_normalisation_for_each_model(tmp_path):
    from mediapipe.tasks.metadata import metadata_schema_py_generated as mdf
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    path = models.ensure_model("full").path
    with zipfile.ZipFile(path) as z:
        for name, mean, std in [(models.DETECTOR_NAME, 127.5, 127.5), (models.LANDMARKER_NAME, 0.0, 255.0)]:
            model = tfl.Model.GetRootAs(z.read(name), 0)
            metas = {
                model.Metadata(i).Name().decode(): model.Metadata(i).Buffer() for i in range(model.MetadataLength())
            }
            buf = model.Buffers(metas["TFLITE_METADATA"]).DataAsNumpy().tobytes()
            md = mdf.ModelMetadata.GetRootAs(buf, 0)
            unit = md.SubgraphMetadata(0).InputTensorMetadata(0).ProcessUnits(0)
            opts = mdf.NormalizationOptions()
            opts.Init(unit.Options().Bytes, unit.Options().Pos)
            assert (opts.Mean(0), opts.Std(0)) == (mean, std)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        (b"not a zip", "not a valid .task bundle"),
        ("zip-without-models", "not a pose landmarker bundle"),
    ],
)
def test_env_model_that_is_not_a_bundle_is_one_line_error(tmp_path, monkeypatch, content, message):
    path = tmp_path / "bad.task"
    if content == "zip-without-models":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "hello")
    elif content is not None:
        path.write_bytes(content)
    monkeypatch.setenv(models.ENV_MODEL, str(path))
    with pytest.raises(PoseModelError, match=message) as info:
        models.ensure_model()
    assert "\n" not in str(info.value)


def test_unknown_variant_lists_the_choices():
    with pytest.raises(PoseModelError, match="lite, full, heavy"):
        models.ensure_model("huge")


def test_corrupt_cached_bundle_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path))
    (tmp_path / "cache").symlink_to(models.Path(models.__file__).resolve().parents[2] / "models" / "cache")
    models.bundle_path("full").write_bytes(b"garbage")
    info = models.ensure_model("full")
    assert info.sha256 == models.expected_bundle_sha256("full")


def test_no_model_and_no_build_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(models.ENV_MODELS_DIR, str(tmp_path))
    with pytest.raises(PoseModelError, match="formcheck models --build|FORMCHECK_POSE_MODEL"):
        models.ensure_model("full", build=False)
