"""The mannequin's visible shape: capsules and ellipsoids around a posed skeleton, in clothing colours, with a
face (eyes, brows, nose, mouth), hair and ears, because the pose detector looks for a face to find a person."""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

from formcheck.core.landmarks import Lm, Side
from formcheck.mannequin.body import Body, Skeleton, face_points_m, rot
from formcheck.mannequin.render import Capsule, Ellipsoid, Primitive, sphere

RGB = tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class Outfit:
    skin: RGB = (0.86, 0.66, 0.52)
    shirt: RGB = (0.16, 0.42, 0.72)
    trousers: RGB = (0.22, 0.22, 0.28)
    shoes: RGB = (0.92, 0.92, 0.90)
    hair: RGB = (0.22, 0.14, 0.09)
    eyes: RGB = (0.08, 0.06, 0.05)
    lips: RGB = (0.62, 0.28, 0.28)
    belt: RGB = (0.10, 0.08, 0.07)


def blend_frames(ra: NDArray, rb: NDArray, w: float) -> NDArray:
    """The rotation a fraction `w` of the way from frame ra to frame rb (axis-angle interpolation)."""
    rel = ra.T @ rb
    angle = np.degrees(np.arccos(np.clip((np.trace(rel) - 1.0) / 2.0, -1.0, 1.0)))
    if angle < 1e-6:
        return ra.copy()
    axis = np.array([rel[2, 1] - rel[1, 2], rel[0, 2] - rel[2, 0], rel[1, 0] - rel[0, 1]])
    return ra @ rot(axis, w * angle)


def figure_primitives(sk: Skeleton, body: Body, outfit: Outfit | None = None) -> list[Primitive]:
    """The primitives of one posed mannequin (order does not matter: the renderer z-buffers)."""
    outfit = outfit or Outfit()
    j = sk.joints
    prims: list[Primitive] = []
    rp, rt, rh = sk.pelvis_frame, sk.trunk_frame, sk.head_frame
    up_t = rt[:, 1]
    # pelvis / hips (trousers) with a belt, and the trunk (shirt): the abdomen sits in a frame between the
    # pelvis and the chest (the lumbar spine bends), so a pelvic drop tilts the waist as it does on a person
    # and is not hidden under a level shirt.
    rl = blend_frames(rp, rt, 0.15)
    prims.append(Ellipsoid(j["pelvis"] + rp @ np.array([0.0, 0.03, -0.01]), rp, (0.18, 0.14, 0.115), outfit.trousers))
    prims.append(Ellipsoid(j["pelvis"] + rp @ np.array([0.0, 0.125, -0.005]), rp, (0.163, 0.024, 0.113), outfit.belt))
    for s in (1.0, -1.0):  # the hips' lateral bulge (greater trochanter and gluteus medius)
        prims.append(
            Ellipsoid(j["pelvis"] + rp @ np.array([s * 0.125, 0.0, -0.01]), rp, (0.07, 0.11, 0.1), outfit.trousers)
        )
    prims.append(Ellipsoid(j["pelvis"] + rl @ np.array([0.0, 0.22, 0.0]), rl, (0.152, 0.15, 0.103), outfit.shirt))
    prims.append(Ellipsoid(j["pelvis"] + rt @ np.array([0.0, 0.40, 0.0]), rt, (0.175, 0.15, 0.115), outfit.shirt))
    prims.append(Capsule(j["shoulder_left"] - 0.02 * up_t, j["shoulder_right"] - 0.02 * up_t, 0.06, outfit.shirt))
    # neck and head
    prims.append(Capsule(j["neck"] - 0.03 * up_t, j["head"] - 0.06 * rh[:, 1], 0.05, outfit.skin))
    prims.append(Ellipsoid(j["head"], rh, body.head_radii_m, outfit.skin))
    hr = body.head_radii_m
    prims.append(
        Ellipsoid(
            j["head"] + rh @ np.array([0.0, 0.03, -0.022]),
            rh,
            (hr[0] + 0.006, hr[1] - 0.01, hr[2] - 0.006),
            outfit.hair,
        )
    )
    for s in (1.0, -1.0):
        face = face_points_m(s)
        side = "LEFT" if s > 0 else "RIGHT"
        eye = face[Lm[f"{side}_EYE"]]
        prims.append(sphere(j["head"] + rh @ (eye - np.array([0.0, 0.0, 0.006])), 0.013, outfit.eyes))
        brow_a = eye + np.array([-s * 0.015, 0.022, -0.002])
        brow_b = eye + np.array([s * 0.016, 0.020, -0.008])
        prims.append(Capsule(j["head"] + rh @ brow_a, j["head"] + rh @ brow_b, 0.005, outfit.hair))
        ear = face[Lm[f"{side}_EAR"]]
        prims.append(Ellipsoid(j["head"] + rh @ ear, rh, (0.012, 0.03, 0.02), outfit.skin))
    prims.append(sphere(j["head"] + rh @ np.array([0.0, -0.008, 0.096]), 0.019, tuple(c * 0.93 for c in outfit.skin)))
    ml = face_points_m(1.0)[Lm.MOUTH_LEFT]
    mr = face_points_m(-1.0)[Lm.MOUTH_RIGHT]
    prims.append(
        Capsule(j["head"] + rh @ (ml - [0, 0, 0.004]), j["head"] + rh @ (mr - [0, 0, 0.004]), 0.0075, outfit.lips)
    )
    # arms: short sleeves, bare forearms, hands
    for side in (Side.LEFT, Side.RIGHT):
        sh, el, wr = j[f"shoulder_{side}"], j[f"elbow_{side}"], j[f"wrist_{side}"]
        mid = sh + 0.55 * (el - sh)
        prims.append(Capsule(sh, mid, 0.056, outfit.shirt))
        prims.append(Capsule(mid, el, 0.045, outfit.skin))
        prims.append(Capsule(el, wr, 0.037, outfit.skin))
        along = sk.hand_frames[side] @ np.array([0.0, -1.0, 0.0])
        prims.append(Capsule(wr + 0.02 * along, wr + 0.09 * along, 0.035, outfit.skin))
    # legs: tapered by two capsules each, trousers to the ankle, shoes
    for side in (Side.LEFT, Side.RIGHT):
        hip, knee, ankle = j[f"hip_{side}"], j[f"knee_{side}"], j[f"ankle_{side}"]
        prims.append(Capsule(hip, hip + 0.5 * (knee - hip), 0.082, outfit.trousers))
        prims.append(Capsule(hip + 0.45 * (knee - hip), knee, 0.062, outfit.trousers))
        prims.append(Capsule(knee, knee + 0.45 * (ankle - knee), 0.056, outfit.trousers))
        prims.append(Capsule(knee + 0.4 * (ankle - knee), ankle, 0.045, outfit.trousers))
        rf = sk.foot_frames[side]
        fwd, upf = rf[:, 2], rf[:, 1]
        heel = j[f"heel_{side}"] + 0.012 * fwd + 0.01 * upf
        toe = j[f"toe_{side}"]
        prims.append(Capsule(heel, toe, 0.042, outfit.shoes))
        prims.append(Capsule(ankle - 0.01 * upf, heel + 0.02 * upf, 0.045, outfit.shoes))
    return prims
