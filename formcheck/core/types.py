"""Frozen data types that flow between stages: one frame of pose (PoseFrame) and a columnar sequence (PoseSeq)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from formcheck.core.landmarks import N_LANDMARKS

# The array types the core passes around (numpy's own generic, spelled once).
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]


def as_float(x: ArrayLike) -> FloatArray:
    """`x` as a float64 array (no copy when it already is one): numpy's ufuncs are typed as returning Any."""
    return np.asarray(x, dtype=np.float64)


# A landmark whose visibility is below this is treated as not seen: its xy_px becomes NaN, so every
# measure built on it is NaN and every rule that needs it says "unknown" (MediaPipe's own drawing
# utilities use 0.5 as their visibility cut-off).
VISIBILITY_MIN = 0.5

NPZ_FORMAT = "formcheck.landmarks/1"
# The same layout as written for a few hours of development under the layer-qualified name: still read, so
# landmark caches made then load instead of re-running the model.
NPZ_FORMATS_READ = frozenset({NPZ_FORMAT, "formcheck.core.landmarks/1"})


def _frozen(a: FloatArray) -> FloatArray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def mask_xy(xyz_px: FloatArray, visibility: FloatArray, visibility_min: float = VISIBILITY_MIN) -> FloatArray:
    """x, y in px with NaN where the landmark is not visible enough. Works on (..., 33, 3) / (..., 33)."""
    xy = np.array(xyz_px[..., :2], dtype=np.float64, copy=True)
    xy[~(visibility >= visibility_min)] = np.nan
    return xy


@dataclasses.dataclass(frozen=True, eq=False)
class PoseFrame:
    """One video frame's pose, built only by the adapter in pose.py (or by synthetic generators in tests).

    Attributes:
        t_s: presentation time of the frame in seconds, from the decoder (or the camera clock).
        frame_wh: (width, height) of the upright frame in px.
        xyz_px: (33, 3) raw image landmarks: x, y in px; z in px on the same scale as x (MediaPipe's
            normalised z times the frame width); NaN when no person was found.
        visibility, presence: (33,) MediaPipe scores in [0, 1]; 0 when no person was found.
        world_m: (33, 3) world landmarks in metres, hip-centred, or None.
        xy_px: (33, 2) x, y in px with NaN where visibility < VISIBILITY_MIN: what analysis uses.
        n_people: how many people the periodic multi-person check saw (None: not checked for this frame).
        luma: mean brightness of the frame, 0-255 (None: not measured), for "too dark" guidance.
    """

    t_s: float
    frame_wh: tuple[int, int]
    xyz_px: FloatArray
    visibility: FloatArray
    presence: FloatArray
    world_m: FloatArray | None = None
    xy_px: FloatArray = dataclasses.field(default=None)  # type: ignore[arg-type]  # filled in __post_init__
    n_people: int | None = None
    luma: float | None = None

    def __post_init__(self) -> None:
        if self.xyz_px.shape != (N_LANDMARKS, 3):
            raise ValueError(f"xyz_px must be (33, 3), got {self.xyz_px.shape}")
        if self.visibility.shape != (N_LANDMARKS,) or self.presence.shape != (N_LANDMARKS,):
            raise ValueError("visibility and presence must be (33,)")
        if self.world_m is not None and self.world_m.shape != (N_LANDMARKS, 3):
            raise ValueError(f"world_m must be (33, 3), got {self.world_m.shape}")
        object.__setattr__(self, "xyz_px", _frozen(np.asarray(self.xyz_px, dtype=np.float64)))
        object.__setattr__(self, "visibility", _frozen(np.asarray(self.visibility, dtype=np.float64)))
        object.__setattr__(self, "presence", _frozen(np.asarray(self.presence, dtype=np.float64)))
        if self.world_m is not None:
            object.__setattr__(self, "world_m", _frozen(np.asarray(self.world_m, dtype=np.float64)))
        if self.xy_px is None:
            object.__setattr__(self, "xy_px", _frozen(mask_xy(self.xyz_px, self.visibility)))

    @property
    def detected(self) -> bool:
        """True when the model found a person in this frame."""
        return bool(np.isfinite(self.xyz_px[:, 0]).any())

    @classmethod
    def empty(
        cls, t_s: float, frame_wh: tuple[int, int], n_people: int | None = None, luma: float | None = None
    ) -> PoseFrame:
        """A frame in which no person was found: kept (not dropped) so timing stays true."""
        nan = np.full((N_LANDMARKS, 3), np.nan)
        zero = np.zeros(N_LANDMARKS)
        return cls(
            t_s=t_s,
            frame_wh=frame_wh,
            xyz_px=nan,
            visibility=zero,
            presence=zero,
            world_m=None,
            n_people=n_people,
            luma=luma,
        )

    def replace(self, **changes: Any) -> PoseFrame:
        """A copy with some fields changed (of each field's own type, hence Any); xy_px is recomputed unless given."""
        if "xy_px" not in changes and ("xyz_px" in changes or "visibility" in changes):
            changes["xy_px"] = None
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True, eq=False)
class PoseSeq:
    """A time-indexed sequence of poses in columnar form (offline analysis, tests, storage).

    Shapes: t_s (T,), xyz_px (T, 33, 3), visibility/presence (T, 33), world_m (T, 33, 3) (NaN when a
    frame has none), xy_px (T, 33, 2) masked like PoseFrame.xy_px, n_people and luma (T,) with NaN where
    not measured.
    """

    t_s: FloatArray
    frame_wh: tuple[int, int]
    xyz_px: FloatArray
    visibility: FloatArray
    presence: FloatArray
    world_m: FloatArray
    xy_px: FloatArray = dataclasses.field(default=None)  # type: ignore[arg-type]  # filled in __post_init__
    n_people: FloatArray = dataclasses.field(default=None)  # type: ignore[arg-type]  # filled in __post_init__
    luma: FloatArray = dataclasses.field(default=None)  # type: ignore[arg-type]  # filled in __post_init__

    def __post_init__(self) -> None:
        n = len(self.t_s)
        if self.xyz_px.shape != (n, N_LANDMARKS, 3) or self.world_m.shape != (n, N_LANDMARKS, 3):
            raise ValueError("xyz_px and world_m must be (T, 33, 3)")
        if self.visibility.shape != (n, N_LANDMARKS) or self.presence.shape != (n, N_LANDMARKS):
            raise ValueError("visibility and presence must be (T, 33)")
        if n > 1 and not np.all(np.diff(self.t_s) > 0):
            raise ValueError("t_s must be strictly increasing")
        for name in ("t_s", "xyz_px", "visibility", "presence", "world_m"):
            object.__setattr__(self, name, _frozen(np.asarray(getattr(self, name), dtype=np.float64)))
        if self.xy_px is None:
            object.__setattr__(self, "xy_px", _frozen(mask_xy(self.xyz_px, self.visibility)))
        for name in ("n_people", "luma"):
            v = getattr(self, name)
            v = np.full(n, np.nan) if v is None else np.asarray(v, dtype=np.float64)
            if v.shape != (n,):
                raise ValueError(f"{name} must be (T,)")
            object.__setattr__(self, name, _frozen(v))

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def detected(self) -> BoolArray:
        """(T,) bool: a person was found in the frame."""
        return np.asarray(np.isfinite(self.xyz_px[:, :, 0]).any(axis=1), dtype=np.bool_)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self) else 0.0

    @classmethod
    def from_frames(
        cls, frames: Sequence[PoseFrame] | Iterable[PoseFrame], frame_wh: tuple[int, int] | None = None
    ) -> PoseSeq:
        frames = list(frames)
        if not frames:
            wh = frame_wh or (0, 0)
            return cls(
                t_s=np.zeros(0),
                frame_wh=wh,
                xyz_px=np.zeros((0, N_LANDMARKS, 3)),
                visibility=np.zeros((0, N_LANDMARKS)),
                presence=np.zeros((0, N_LANDMARKS)),
                world_m=np.zeros((0, N_LANDMARKS, 3)),
            )
        nan_world = np.full((N_LANDMARKS, 3), np.nan)
        return cls(
            t_s=np.array([f.t_s for f in frames]),
            frame_wh=frames[0].frame_wh,
            xyz_px=np.stack([f.xyz_px for f in frames]),
            visibility=np.stack([f.visibility for f in frames]),
            presence=np.stack([f.presence for f in frames]),
            world_m=np.stack([f.world_m if f.world_m is not None else nan_world for f in frames]),
            xy_px=np.stack([f.xy_px for f in frames]),
            n_people=np.array([np.nan if f.n_people is None else f.n_people for f in frames], dtype=float),
            luma=np.array([np.nan if f.luma is None else f.luma for f in frames], dtype=float),
        )

    def frame(self, i: int) -> PoseFrame:
        w = self.world_m[i]
        n, lu = self.n_people[i], self.luma[i]
        return PoseFrame(
            t_s=float(self.t_s[i]),
            frame_wh=self.frame_wh,
            xyz_px=self.xyz_px[i],
            visibility=self.visibility[i],
            presence=self.presence[i],
            world_m=None if np.isnan(w).all() else w,
            xy_px=self.xy_px[i],
            n_people=None if np.isnan(n) else int(n),
            luma=None if np.isnan(lu) else float(lu),
        )

    def frames(self) -> Iterable[PoseFrame]:
        for i in range(len(self)):
            yield self.frame(i)

    def index_window(self, i0: int, i1: int) -> PoseSeq:
        """Frames i0 <= i < i1, sliced once across every column."""
        return PoseSeq(
            t_s=self.t_s[i0:i1],
            frame_wh=self.frame_wh,
            xyz_px=self.xyz_px[i0:i1],
            visibility=self.visibility[i0:i1],
            presence=self.presence[i0:i1],
            world_m=self.world_m[i0:i1],
            xy_px=self.xy_px[i0:i1],
            n_people=self.n_people[i0:i1],
            luma=self.luma[i0:i1],
        )

    def window(self, t0_s: float, t1_s: float) -> PoseSeq:
        """Frames with t0_s <= t_s <= t1_s."""
        i0 = int(np.searchsorted(self.t_s, t0_s, side="left"))
        i1 = int(np.searchsorted(self.t_s, t1_s, side="right"))
        return self.index_window(i0, i1)

    def with_xy(self, xyz_px: FloatArray, world_m: FloatArray | None = None) -> PoseSeq:
        """A copy with new (e.g. smoothed) coordinates; the mask is recomputed from visibility."""
        return PoseSeq(
            t_s=self.t_s,
            frame_wh=self.frame_wh,
            xyz_px=xyz_px,
            visibility=self.visibility,
            presence=self.presence,
            world_m=self.world_m if world_m is None else world_m,
            n_people=self.n_people,
            luma=self.luma,
        )

    def save_npz(self, path: str | Path, **meta: str) -> None:
        """Write the sequence as a compressed .npz (format NPZ_FORMAT); `meta` adds string fields."""
        arrays: dict[str, NDArray[np.generic]] = {
            "format": np.array(NPZ_FORMAT),
            "t_s": self.t_s,
            "xyz_px": self.xyz_px,
            "visibility": self.visibility,
            "presence": self.presence,
            "world_m": self.world_m,
            "frame_wh": np.array(self.frame_wh),
            "n_people": self.n_people,
            "luma": self.luma,
        }
        arrays.update({k: np.array(v) for k, v in meta.items()})
        np.savez_compressed(path, allow_pickle=False, **arrays)

    @classmethod
    def load_npz(cls, path: str | Path) -> PoseSeq:
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) not in NPZ_FORMATS_READ:
                raise ValueError(f"{path}: not a {NPZ_FORMAT} file")
            return cls(
                t_s=z["t_s"],
                frame_wh=(int(z["frame_wh"][0]), int(z["frame_wh"][1])),
                xyz_px=z["xyz_px"],
                visibility=z["visibility"],
                presence=z["presence"],
                world_m=z["world_m"],
                n_people=z.get("n_people", None),
                luma=z.get("luma", None),
            )
