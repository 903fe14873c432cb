"""MediaPipe BlazePose's 33 landmarks by name, the left/right pair table and the skeleton's edges."""

from __future__ import annotations

import enum

import numpy as np

N_LANDMARKS = 33


class Lm(enum.IntEnum):
    """The 33 BlazePose landmarks. Left/right are the person's own sides, not the image's."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


class Side(enum.StrEnum):
    """A body side, as the person's own left or right."""

    LEFT = "left"
    RIGHT = "right"

    @property
    def other(self) -> Side:
        return Side.RIGHT if self is Side.LEFT else Side.LEFT


# (left, right) pairs; every landmark not listed here is on the midline.
LR_PAIRS: tuple[tuple[Lm, Lm], ...] = (
    (Lm.LEFT_EYE_INNER, Lm.RIGHT_EYE_INNER),
    (Lm.LEFT_EYE, Lm.RIGHT_EYE),
    (Lm.LEFT_EYE_OUTER, Lm.RIGHT_EYE_OUTER),
    (Lm.LEFT_EAR, Lm.RIGHT_EAR),
    (Lm.MOUTH_LEFT, Lm.MOUTH_RIGHT),
    (Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER),
    (Lm.LEFT_ELBOW, Lm.RIGHT_ELBOW),
    (Lm.LEFT_WRIST, Lm.RIGHT_WRIST),
    (Lm.LEFT_PINKY, Lm.RIGHT_PINKY),
    (Lm.LEFT_INDEX, Lm.RIGHT_INDEX),
    (Lm.LEFT_THUMB, Lm.RIGHT_THUMB),
    (Lm.LEFT_HIP, Lm.RIGHT_HIP),
    (Lm.LEFT_KNEE, Lm.RIGHT_KNEE),
    (Lm.LEFT_ANKLE, Lm.RIGHT_ANKLE),
    (Lm.LEFT_HEEL, Lm.RIGHT_HEEL),
    (Lm.LEFT_FOOT_INDEX, Lm.RIGHT_FOOT_INDEX),
)


def _mirror_index() -> np.ndarray:
    idx = np.arange(N_LANDMARKS)
    for left, right in LR_PAIRS:
        idx[left], idx[right] = right, left
    return idx


# MIRROR_INDEX[i] is the landmark on the other side of i (itself on the midline).
MIRROR_INDEX: np.ndarray = _mirror_index()
MIRROR_INDEX.setflags(write=False)


def sided(side: Side | str, name: str) -> Lm:
    """The landmark `name` on `side`, e.g. ``sided(Side.LEFT, "KNEE") -> Lm.LEFT_KNEE``."""
    return Lm[f"{Side(side).name}_{name}"]


# Skeleton edges for drawing (0-indexed landmark pairs).
CONNECTIONS: tuple[tuple[Lm, Lm], ...] = (
    (Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER),
    (Lm.LEFT_SHOULDER, Lm.LEFT_ELBOW),
    (Lm.LEFT_ELBOW, Lm.LEFT_WRIST),
    (Lm.RIGHT_SHOULDER, Lm.RIGHT_ELBOW),
    (Lm.RIGHT_ELBOW, Lm.RIGHT_WRIST),
    (Lm.LEFT_SHOULDER, Lm.LEFT_HIP),
    (Lm.RIGHT_SHOULDER, Lm.RIGHT_HIP),
    (Lm.LEFT_HIP, Lm.RIGHT_HIP),
    (Lm.LEFT_HIP, Lm.LEFT_KNEE),
    (Lm.LEFT_KNEE, Lm.LEFT_ANKLE),
    (Lm.LEFT_ANKLE, Lm.LEFT_HEEL),
    (Lm.LEFT_HEEL, Lm.LEFT_FOOT_INDEX),
    (Lm.LEFT_ANKLE, Lm.LEFT_FOOT_INDEX),
    (Lm.RIGHT_HIP, Lm.RIGHT_KNEE),
    (Lm.RIGHT_KNEE, Lm.RIGHT_ANKLE),
    (Lm.RIGHT_ANKLE, Lm.RIGHT_HEEL),
    (Lm.RIGHT_HEEL, Lm.RIGHT_FOOT_INDEX),
    (Lm.RIGHT_ANKLE, Lm.RIGHT_FOOT_INDEX),
    (Lm.NOSE, Lm.LEFT_EYE),
    (Lm.NOSE, Lm.RIGHT_EYE),
)
