"""The one operator table: how a value compares with a limit, and by how much it is past it.

Exercise rules (`op = "above"` in a TOML), the hold judge and anything outside core that compares a value with a
limit (the programme's gates, the web's threshold checks) read the same table, so "above" means one thing.
`compare(op, value, limit)` is True when the value stands where the operator says ("above": value > limit), which
for a rule means it is at fault.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Literal

# The operators an exercise rule may use (validated by core.spec; TOML files name these).
RuleOp = Literal["above", "below", "outside", "abs_above"]
RULE_OPS: tuple[str, ...] = ("above", "below", "outside", "abs_above")

# (value, limit, upper limit or None) -> float
_Excess = Callable[[float, float, float | None], float]


def _hi(limit: float, limit_hi: float | None) -> float:
    if limit_hi is None:
        raise ValueError("operator 'outside' needs an upper limit")
    return limit_hi


@dataclasses.dataclass(frozen=True)
class Operator:
    """One comparison: `excess` is how far past the limit a value is (> 0 past it, <= 0 inside); `inclusive`
    operators (ge, le) also hold for a value exactly at the limit."""

    name: str
    excess: _Excess
    inclusive: bool = False  # True: a value exactly at the limit satisfies the operator (ge, le)

    def test(self, value: float, limit: float, limit_hi: float | None = None) -> bool:
        e = self.excess(value, limit, limit_hi)
        return e >= 0 if self.inclusive else e > 0


def _above(v: float, lo: float, hi: float | None) -> float:
    return v - lo


def _below(v: float, lo: float, hi: float | None) -> float:
    return lo - v


def _abs_above(v: float, lo: float, hi: float | None) -> float:
    return abs(v) - lo


def _outside(v: float, lo: float, hi: float | None) -> float:
    return max(v - _hi(lo, hi), lo - v)


OPERATORS: Mapping[str, Operator] = {
    "above": Operator("above", _above),
    "below": Operator("below", _below),
    "abs_above": Operator("abs_above", _abs_above),
    "outside": Operator("outside", _outside),
    # the usual short names, for comparisons outside exercise rules
    "gt": Operator("gt", _above),
    "lt": Operator("lt", _below),
    "ge": Operator("ge", _above, inclusive=True),
    "le": Operator("le", _below, inclusive=True),
}


def operator(op: str) -> Operator:
    """The operator called `op`; ValueError naming the valid ones otherwise."""
    try:
        return OPERATORS[op]
    except KeyError:
        raise ValueError(f"unknown operator {op!r}; valid: {', '.join(OPERATORS)}") from None


def compare(op: str, value: float, limit: float, limit_hi: float | None = None) -> bool:
    """True when `value` stands `op` `limit` ("above": value > limit; "outside": not within [limit, limit_hi]).
    NaN compares False (an unseen value is never past a limit)."""
    if math.isnan(value):
        return False
    return operator(op).test(value, limit, limit_hi)


def excess(op: str, value: float, limit: float, limit_hi: float | None = None) -> float:
    """How far past (positive) or inside (negative) the limit `value` is, in the value's unit."""
    return operator(op).excess(value, limit, limit_hi)
