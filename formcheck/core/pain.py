"""The 0-10 pain scale's zones (traffic light), defined once: the live page colours its pain buttons by them.

TREK's pain-monitoring model (docs/clinical.md §3.9): 0-2 is the safe green zone, a little more is acceptable
(amber) while it settles by the next day, and above that (red) the activity is too much. The split between
amber and red at 5 follows the live page as it was (judgement call within TREK's bands); the programme's own
decisions use its TOML rules (green_pain_max, step_back_pain), not these colours.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

PAIN_MIN, PAIN_MAX = 0, 10
GREEN_MAX = 2  # TREK green zone: pain at most 2/10 (docs/clinical.md §3.9)
AMBER_MAX = 4  # above this the page shows red (docs/clinical.md §3.9, judgement call)


class PainZone(enum.StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


@dataclass(frozen=True)
class ZoneBand:
    """One zone of the scale: scores min..max inclusive."""

    zone: PainZone
    min: int
    max: int


PAIN_ZONES: tuple[ZoneBand, ...] = (
    ZoneBand(PainZone.GREEN, PAIN_MIN, GREEN_MAX),
    ZoneBand(PainZone.AMBER, GREEN_MAX + 1, AMBER_MAX),
    ZoneBand(PainZone.RED, AMBER_MAX + 1, PAIN_MAX),
)


def pain_zone(score: int) -> PainZone:
    """The zone of a 0-10 pain score; ValueError outside the scale."""
    for band in PAIN_ZONES:
        if band.min <= score <= band.max:
            return band.zone
    raise ValueError(f"pain must be {PAIN_MIN}..{PAIN_MAX}, got {score}")
