"""Presence across a cluster, without I/O: the node table fed by heartbeats, the gathering
of presence answers, and the chunks a process answers a presence query with (docs/scaling.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from .._logging import get_logger

__all__ = ["MISSED_HEARTBEATS", "Gathering", "NodeTable", "presence_chunks"]

log = get_logger("ocpp16csms.routers")

MISSED_HEARTBEATS = 3
"""Heartbeats a process may miss before the others count it gone."""


@attrs.define
class _Node:
    seen: float
    interval: float
    charge_points: int


class NodeTable:
    """The processes heard from, by name, as their heartbeats tell (times: monotonic)."""

    def __init__(self) -> None:
        self._nodes: dict[str, _Node] = {}

    def record(self, data: bytes, now: float) -> None:
        """Take one heartbeat; a ``leaving`` one removes its process at once."""
        try:
            beat = json.loads(data)
            name, state = str(beat["node"]), beat.get("state", "up")
            interval, count = float(beat["interval"]), int(beat["charge_points"])
        except (ValueError, TypeError, KeyError):
            return
        if state == "leaving":
            self._nodes.pop(name, None)
        elif 0 < interval < 1e6:
            self._nodes[name] = _Node(now, interval, count)

    def live(self, now: float) -> dict[str, int]:
        """Processes whose last heartbeat is recent enough, with their charge point counts."""
        return {
            name: node.charge_points
            for name, node in sorted(self._nodes.items())
            if now - node.seen <= MISSED_HEARTBEATS * node.interval
        }

    def slowest_interval(self, default: float) -> float:
        """The longest heartbeat interval heard of (``default`` when none is longer)."""
        return max([default, *(node.interval for node in self._nodes.values())])


class Gathering:
    """The answers to one presence query, merged as they come."""

    def __init__(self) -> None:
        self._found: dict[str, tuple[float, str]] = {}
        self._parts: dict[str, set[int]] = {}
        #: The processes whose every part has come.
        self.complete: set[str] = set()

    def add(self, data: bytes) -> None:
        """Merge one answer (one part of one process's list)."""
        try:
            answer = json.loads(data)
            node, part, count = str(answer["node"]), int(answer["part"]), int(answer["parts"])
            held = {str(cp): float(since) for cp, since in dict(answer["charge_points"]).items()}
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("an unreadable presence answer was ignored")
            return
        for charge_point_id, since in held.items():
            # Two holders only while one hands over: the newer connection is the one that stays.
            if charge_point_id not in self._found or self._found[charge_point_id][0] < since:
                self._found[charge_point_id] = (since, node)
        received = self._parts.setdefault(node, set())
        received.add(part)
        if len(received) >= count:
            self.complete.add(node)

    def holders(self) -> dict[str, str]:
        """Charge point id → the process holding it, sorted by id."""
        return {cp: node for cp, (_, node) in sorted(self._found.items())}


def presence_chunks(node: str, held: Mapping[str, float], budget: int) -> list[dict[str, Any]]:
    """The answer of ``node`` to a presence query, in parts whose charge point objects take at
    most ``budget`` bytes of compact UTF-8 JSON each (one oversized entry makes a part alone)."""
    chunks: list[dict[str, float]] = [{}]
    size = 0
    for charge_point_id, since in held.items():
        # As written on the wire: `"id":since,` inside the object.
        entry = len(json.dumps({charge_point_id: since}, ensure_ascii=False).encode()) - 1
        if size + entry > budget and chunks[-1]:
            chunks.append({})
            size = 0
        chunks[-1][charge_point_id] = since
        size += entry
    return [
        {"node": node, "part": part, "parts": len(chunks), "charge_points": chunk}
        for part, chunk in enumerate(chunks)
    ]
