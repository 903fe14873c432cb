"""A small numpy ray caster: a pinhole camera, shaded primitives (capsules, spheres, ellipsoids, boxes), a floor
and a back wall, with a z-buffer. Each primitive is intersected only over the pixels of its projected bounding
box, so a 640×480 frame of the mannequin renders in a few tens of milliseconds.

Pixel convention (same as MediaPipe's normalised coordinates times the frame size): x grows right, y grows down,
and the pixel with index (i, j) covers [j, j+1) × [i, i+1), so its centre is (j + 0.5, i + 0.5).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray

from formcheck.mannequin.body import unit


@dataclasses.dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera looking from `position_m` at `target_m` with a focal length in px."""

    position_m: tuple[float, float, float]
    target_m: tuple[float, float, float]
    focal_px: float
    width_px: int
    height_px: int

    def __post_init__(self) -> None:
        if self.width_px % 2 or self.height_px % 2:
            raise ValueError("frame size must be even (libx264 with yuv420p)")

    @property
    def basis(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(right, up, forward) unit vectors of the camera in world coordinates."""
        fwd = unit(np.asarray(self.target_m, float) - np.asarray(self.position_m, float))
        right = unit(np.cross(fwd, np.array([0.0, 1.0, 0.0])))
        up = np.cross(right, fwd)
        return right, up, fwd

    def project(self, pts_m: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """World points (..., 3) → pixel coordinates (..., 2) and depth along the optical axis (...)."""
        right, up, fwd = self.basis
        rel = np.asarray(pts_m, float) - np.asarray(self.position_m, float)
        x, y, z = rel @ right, rel @ up, rel @ fwd
        u = self.width_px / 2.0 + self.focal_px * x / z
        v = self.height_px / 2.0 - self.focal_px * y / z
        return np.stack([u, v], axis=-1), z

    def rays(self) -> NDArray[np.float64]:
        """(H, W, 3) unit ray directions through the pixel centres."""
        right, up, fwd = self.basis
        u = (np.arange(self.width_px) + 0.5 - self.width_px / 2.0) / self.focal_px
        v = (np.arange(self.height_px) + 0.5 - self.height_px / 2.0) / self.focal_px
        d = fwd[None, None, :] + u[None, :, None] * right[None, None, :] - v[:, None, None] * up[None, None, :]
        rays: NDArray[np.float64] = (d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float64)
        return rays

    def as_dict(self) -> dict[str, Any]:
        return {
            "position_m": [round(float(v), 4) for v in self.position_m],
            "target_m": [round(float(v), 4) for v in self.target_m],
            "focal_px": float(self.focal_px),
            "width_px": self.width_px,
            "height_px": self.height_px,
            "model": "pinhole, principal point at the frame centre, no distortion",
        }


@dataclasses.dataclass(frozen=True, eq=False)
class Capsule:
    a: NDArray[np.float64]
    b: NDArray[np.float64]
    r: float
    rgb: tuple[float, float, float]

    def bounds(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return np.minimum(self.a, self.b) - self.r, np.maximum(self.a, self.b) + self.r

    def hit(self, o: NDArray[np.float64], d: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Ray parameter t (inf on a miss) and the unit normal at the hit, for rays o + t d."""
        ba = self.b - self.a
        oa = o - self.a
        baba = float(ba @ ba)
        bard = d @ ba
        baoa = float(ba @ oa)
        rdoa = d @ oa
        oaoa = float(oa @ oa)
        qa = baba - bard * bard
        qb = baba * rdoa - baoa * bard
        qc = baba * oaoa - baoa * baoa - self.r * self.r * baba
        h = qb * qb - qa * qc
        t = np.full(d.shape[0], np.inf)
        ok = (h >= 0) & (qa > 1e-12)
        with np.errstate(invalid="ignore", divide="ignore"):
            tb = (-qb - np.sqrt(np.where(ok, h, 0.0))) / np.where(ok, qa, 1.0)
            y = baoa + tb * bard
            body = ok & (y > 0) & (y < baba) & (tb > 0)
            t[body] = tb[body]
            # end caps (spheres at a and b)
            for centre in (self.a, self.b):
                oc = o - centre
                b2 = d @ oc
                c2 = float(oc @ oc) - self.r * self.r
                h2 = b2 * b2 - c2
                tc = -b2 - np.sqrt(np.where(h2 > 0, h2, 0.0))
                m = (h2 > 0) & (tc > 0) & (tc < t)
                t[m] = tc[m]
        p = o + np.where(np.isfinite(t), t, 0.0)[:, None] * d
        s = np.clip(((p - self.a) @ ba) / max(baba, 1e-12), 0.0, 1.0)
        n = p - (self.a + s[:, None] * ba)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        return t, n


@dataclasses.dataclass(frozen=True, eq=False)
class Ellipsoid:
    c: NDArray[np.float64]
    frame: NDArray[np.float64]  # columns: the ellipsoid's axes in world coordinates
    radii: tuple[float, float, float]
    rgb: tuple[float, float, float]

    def bounds(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        ext = np.abs(self.frame) @ np.asarray(self.radii)
        return self.c - ext, self.c + ext

    def hit(self, o: NDArray[np.float64], d: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        inv_r = 1.0 / np.asarray(self.radii)
        ol = ((o - self.c) @ self.frame) * inv_r
        dl = (d @ self.frame) * inv_r
        qa = np.einsum("ij,ij->i", dl, dl)
        qb = dl @ ol
        qc = float(ol @ ol) - 1.0
        h = qb * qb - qa * qc
        t = np.full(d.shape[0], np.inf)
        ok = h > 0
        tt = (-qb - np.sqrt(np.where(ok, h, 0.0))) / qa
        ok &= tt > 0
        t[ok] = tt[ok]
        pl = ol + np.where(ok, tt, 0.0)[:, None] * dl
        n = (pl * inv_r) @ self.frame.T
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        return t, n


def sphere(c: NDArray[np.float64], r: float, rgb: tuple[float, float, float]) -> Ellipsoid:
    return Ellipsoid(c=np.asarray(c, float), frame=np.eye(3), radii=(r, r, r), rgb=rgb)


@dataclasses.dataclass(frozen=True, eq=False)
class Box:
    """An axis-aligned box (e.g. the step of a step-down)."""

    lo: NDArray[np.float64]
    hi: NDArray[np.float64]
    rgb: tuple[float, float, float]

    def bounds(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return self.lo, self.hi

    def hit(self, o: NDArray[np.float64], d: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / d
            t1 = (self.lo - o) * inv
            t2 = (self.hi - o) * inv
        tmin = np.minimum(t1, t2)
        tmax = np.maximum(t1, t2)
        tn = np.nanmax(tmin, axis=1)
        tf = np.nanmin(tmax, axis=1)
        ok = (tn <= tf) & (tn > 0)
        t = np.where(ok, tn, np.inf)
        axis = np.argmax(np.nan_to_num(tmin, nan=-np.inf), axis=1)
        n = np.zeros_like(d)
        rows = np.arange(d.shape[0])
        n[rows, axis] = -np.sign(d[rows, axis])
        return t, n


Primitive = Capsule | Ellipsoid | Box


@dataclasses.dataclass(frozen=True)
class Room:
    """Static surroundings: a checker floor at y = 0 and a plain wall behind the subject."""

    floor_rgb: tuple[float, float, float] = (0.62, 0.55, 0.47)
    floor_rgb2: tuple[float, float, float] = (0.55, 0.49, 0.42)
    tile_m: float = 0.5
    wall_rgb: tuple[float, float, float] = (0.80, 0.82, 0.80)
    wall_distance_m: float = 2.2  # behind the camera target, along the camera's horizontal view direction


class Renderer:
    """Renders lists of primitives over a precomputed static background (floor, wall, props)."""

    AMBIENT = 0.38  # judgement call: soft enough that shaded sides keep their clothing colour
    DIFFUSE = 0.62

    def __init__(self, camera: Camera, room: Room | None = None, props: tuple[Primitive, ...] = ()) -> None:
        room = room or Room()
        self.camera = camera
        self.origin = np.asarray(camera.position_m, float)
        self.rays = camera.rays()
        right, up, fwd = camera.basis
        # one light, from above, slightly from the camera side and from the image left
        self.light = unit(0.9 * np.array([0.0, 1.0, 0.0]) - 0.6 * fwd - 0.35 * right)
        self._bg_rgb, self._bg_t = self._background(room, props)

    def _background(self, room: Room, props: tuple[Primitive, ...]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        h, w = self.camera.height_px, self.camera.width_px
        d = self.rays.reshape(-1, 3)
        o = self.origin
        rgb = np.zeros((d.shape[0], 3))
        t = np.full(d.shape[0], np.inf)
        # wall: a vertical plane facing the camera
        _, _, fwd = self.camera.basis
        fh = unit(np.array([fwd[0], 0.0, fwd[2]]))
        p0 = np.asarray(self.camera.target_m, float) + room.wall_distance_m * fh
        denom = d @ fh
        with np.errstate(divide="ignore", invalid="ignore"):
            tw = ((p0 - o) @ fh) / denom
        m = (denom > 1e-6) & (tw > 0)
        t[m] = tw[m]
        py = o[1] + tw * d[:, 1]
        shade_w = 0.92 + 0.08 * np.clip(py / 2.5, 0, 1)
        rgb[m] = np.asarray(room.wall_rgb) * shade_w[m, None]
        # floor
        with np.errstate(divide="ignore", invalid="ignore"):
            tf = -o[1] / d[:, 1]
        m = (d[:, 1] < -1e-6) & (tf > 0) & (tf < t)
        t[m] = tf[m]
        px = o[0] + tf * d[:, 0]
        pz = o[2] + tf * d[:, 2]
        checker = (np.floor(px / room.tile_m) + np.floor(pz / room.tile_m)) % 2
        col = np.where(checker[:, None] > 0, np.asarray(room.floor_rgb), np.asarray(room.floor_rgb2))
        dist = np.clip(tf / 8.0, 0, 1)[:, None]
        col = col * (1 - 0.25 * dist) + 0.25 * dist * np.asarray(room.wall_rgb)  # haze towards the horizon
        rgb[m] = col[m]
        # skirting line where floor meets wall
        line = m & (np.abs((pz - p0[2]) * fh[2] + (px - p0[0]) * fh[0]) < 0.03)
        rgb[line] *= 0.8
        for prim in props:
            tp, n = prim.hit(o, d)
            mm = tp < t
            t[mm] = tp[mm]
            rgb[mm] = self._shade(np.asarray(prim.rgb), n[mm])
        return rgb.reshape(h, w, 3), t.reshape(h, w)

    def _shade(self, rgb: NDArray[np.float64], n: NDArray[np.float64]) -> NDArray[np.float64]:
        lam = np.clip(n @ self.light, 0.0, 1.0)
        return rgb[None, :] * (self.AMBIENT + self.DIFFUSE * lam)[:, None]

    def _bbox(self, prim: Primitive) -> tuple[int, int, int, int] | None:
        lo, hi = prim.bounds()
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        uv, depth = self.camera.project(corners)
        w, h = self.camera.width_px, self.camera.height_px
        if np.any(depth <= 0.05):
            return 0, w, 0, h
        u0 = int(np.clip(np.floor(uv[:, 0].min()) - 1, 0, w))
        u1 = int(np.clip(np.ceil(uv[:, 0].max()) + 1, 0, w))
        v0 = int(np.clip(np.floor(uv[:, 1].min()) - 1, 0, h))
        v1 = int(np.clip(np.ceil(uv[:, 1].max()) + 1, 0, h))
        if u1 <= u0 or v1 <= v0:
            return None
        return u0, u1, v0, v1

    def render(self, prims: list[Primitive]) -> NDArray[np.float64]:
        """An (H, W, 3) uint8 RGB frame."""
        rgb = self._bg_rgb.copy()
        zbuf = self._bg_t.copy()
        for prim in prims:
            bb = self._bbox(prim)
            if bb is None:
                continue
            u0, u1, v0, v1 = bb
            d = self.rays[v0:v1, u0:u1].reshape(-1, 3)
            t, n = prim.hit(self.origin, d)
            zb = zbuf[v0:v1, u0:u1].reshape(-1)
            m = t < zb
            if not m.any():
                continue
            zb[m] = t[m]
            zbuf[v0:v1, u0:u1] = zb.reshape(v1 - v0, u1 - u0)
            block = rgb[v0:v1, u0:u1].reshape(-1, 3)
            block[m] = self._shade(np.asarray(prim.rgb), n[m])
            rgb[v0:v1, u0:u1] = block.reshape(v1 - v0, u1 - u0, 3)
        return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
