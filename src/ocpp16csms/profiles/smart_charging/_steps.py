"""Arithmetic on piecewise-constant limits, for :mod:`.composite` (§3.13).

Times are integer microseconds from the start of the window. A step is
``(t0, t1, limit, number_phases)`` over ``[t0, t1)``; a step list is sorted and non-overlapping,
and an instant that no step covers is a gap: no limit applies there.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

__all__ = [
    "HeapKey",
    "Piece",
    "S",
    "Step",
    "Value",
    "add",
    "append_step",
    "combine",
    "minimum",
    "overlay",
    "round_down",
    "stack",
    "whole_seconds",
]

S = 1_000_000
"""Microseconds per second."""

Value = tuple[float, int | None]
Step = tuple[int, int, float, int | None]
HeapKey = tuple[int, int, float, int, int, int | None]
"""(-stack_level, -specificity, limit, number_phases or -1, end, number_phases): the heap
orders by rank first and then by the lower limit, and carries what the winner needs."""
Piece = tuple[int, int, HeapKey]
"""(start, end, key): one period of one profile, where it is in force."""


def append_step(out: list[Step], t0: int, t1: int, limit: float, phases: int | None) -> None:
    if out:
        last = out[-1]
        if last[1] == t0 and last[2] == limit and last[3] == phases:
            out[-1] = (last[0], t1, limit, phases)
            return
    out.append((t0, t1, limit, phases))


def stack(pieces: list[Piece]) -> list[Step]:
    """The prevailing profile at every instant: the highest rank in force (§3.13.2)."""
    if not pieces:
        return []
    pieces.sort(key=lambda p: p[0])
    bounds = sorted({p[0] for p in pieces} | {p[1] for p in pieces})
    heap: list[HeapKey] = []
    out: list[Step] = []
    i, n = 0, len(pieces)
    for j in range(len(bounds) - 1):
        t = bounds[j]
        while i < n and pieces[i][0] <= t:
            heapq.heappush(heap, pieces[i][2])
            i += 1
        while heap and heap[0][4] <= t:
            heapq.heappop(heap)
        if heap:
            # Equal ranks (two profiles the charge point would not both keep) give the lower
            # limit, so the result does not depend on the order of the input.
            top = heap[0]
            append_step(out, t, bounds[j + 1], top[2], top[5])
    return out


def combine(
    f: list[Step], g: list[Step], op: Callable[[Value | None, Value | None], Value | None]
) -> list[Step]:
    """Apply ``op`` instant by instant to two step lists; None stands for a gap."""
    bounds = sorted({s[0] for s in f} | {s[1] for s in f} | {s[0] for s in g} | {s[1] for s in g})
    out: list[Step] = []
    i = k = 0
    for j in range(len(bounds) - 1):
        t = bounds[j]
        while i < len(f) and f[i][1] <= t:
            i += 1
        while k < len(g) and g[k][1] <= t:
            k += 1
        a = (f[i][2], f[i][3]) if i < len(f) and f[i][0] <= t else None
        b = (g[k][2], g[k][3]) if k < len(g) and g[k][0] <= t else None
        value = op(a, b)
        if value is not None:
            append_step(out, t, bounds[j + 1], *value)
    return out


def overlay(a: Value | None, b: Value | None) -> Value | None:
    return b if a is None else a


def minimum(a: Value | None, b: Value | None) -> Value | None:
    # The (limit, number_phases) of the lower side; on a tie the left (transaction) side.
    if a is None:
        return b
    if b is None:
        return a
    return b if b[0] < a[0] else a


def minimum_on_fewest_phases(
    *, in_watts: bool, default_phases: int
) -> Callable[[Value | None, Value | None], Value | None]:
    """The lower of two limits as one physical limit, whatever the unit (errata 3.69).

    Limits on the same number of phases compare as they are. Otherwise both are taken on the
    fewer phases: an ampere limit is per phase, so it stays; a watt limit keeps its power per
    phase, ``W / phases``. The lower per-phase figure on the fewer phases never exceeds either
    limit in A or in W, and is the same limit in both units.
    """

    def lower(a: Value | None, b: Value | None) -> Value | None:
        if a is None or b is None:
            return minimum(a, b)
        pa, pb = a[1] or default_phases, b[1] or default_phases
        if pa == pb:
            return minimum(a, b)
        fewest = min(pa, pb)
        if not in_watts:
            return min(a[0], b[0]), fewest
        return min(a[0] / pa, b[0] / pb) * fewest, fewest

    return lower


def add(a: Value | None, b: Value | None) -> Value | None:
    # A connector without a limit makes the total unlimited.
    if a is None or b is None:
        return None
    phases = [p for p in (a[1], b[1]) if p is not None]
    return a[0] + b[0], max(phases) if phases else None


def round_down(limit: float) -> float:
    # Limits travel with one fraction digit (§7.14); rounding down keeps a limit a limit. The
    # epsilon absorbs float noise such as 16 * 0.7 = 11.199999999999999.
    return math.floor(limit * 10 + 1e-6) / 10


def whole_seconds(
    steps: list[Step],
    lower: Callable[[Value | None, Value | None], Value | None] = minimum,
) -> list[Step]:
    """Cut microsecond steps to whole seconds; a second shared by two steps takes ``lower``."""
    out: list[Step] = []
    for t0, t1, limit, phases in steps:
        a, b = t0 // S, -(-t1 // S)
        if out and out[-1][1] > a:
            p0, _, shared_limit, shared_phases = out[-1]
            shared = lower((shared_limit, shared_phases), (limit, phases))
            assert shared is not None
            shared_limit, shared_phases = shared
            if p0 < a:
                out[-1] = (p0, a, out[-1][2], out[-1][3])
                out.append((a, a + 1, shared_limit, shared_phases))
            else:
                out[-1] = (a, a + 1, shared_limit, shared_phases)
            a += 1
            if a >= b:
                continue
        out.append((a, b, limit, phases))
    merged: list[Step] = []
    for t0, t1, limit, phases in out:
        append_step(merged, t0, t1, round_down(limit), phases)
    return merged
