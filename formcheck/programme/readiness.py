"""The Small Knee Bend Test's camera verdict, decided on the server from the reps the analysis judged.

`engine.judge_readiness` turns the verdict (with the pain rating and the two preparation steps) into ready /
retry / not ready; this is the step before it, which the live page used to decide for itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

SkbtVerdict = Literal["valid", "invalid", "unknown"]
UNJUDGED = "unknown"  # a rep's verdict when the camera could not judge it (formcheck.core.results.Rep.verdict)


def small_knee_bend_verdict(rep_verdicts: Sequence[str]) -> SkbtVerdict:
    """ "valid" when every bend was judged valid, "unknown" when none could be judged (no bend seen, or only
    unjudged ones: face the camera and redo it), else "invalid" (a bend was judged, or left unjudged, beside
    judged ones: redo it slowly). An unjudged bend among judged ones never passes the test."""
    if not rep_verdicts or all(v == UNJUDGED for v in rep_verdicts):
        return "unknown"
    if all(v == "valid" for v in rep_verdicts):
        return "valid"
    return "invalid"
