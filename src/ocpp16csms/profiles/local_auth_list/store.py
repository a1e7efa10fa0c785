"""Local authorization list store (OCPP 1.6 §3.5): what each charge point acknowledged."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from ...datatypes import AuthorizationData

__all__ = ["LocalListState", "LocalListStore", "MemoryLocalListStore"]


@attrs.frozen(kw_only=True)
class LocalListState:
    """The list and version a charge point acknowledged (SendLocalList answered Accepted)."""

    version: int
    entries: tuple[AuthorizationData, ...] = ()


@runtime_checkable
class LocalListStore(Protocol):
    """Per charge point, the local list and version the charge point has acknowledged."""

    async def get(self, charge_point_id: str) -> LocalListState | None:
        """The acknowledged state, or None when nothing was ever acknowledged."""
        ...

    async def save(self, charge_point_id: str, state: LocalListState) -> None:
        """Record a newly acknowledged state, replacing the previous one."""
        ...


class MemoryLocalListStore:
    """:class:`LocalListStore` in memory."""

    def __init__(self) -> None:
        self._states: dict[str, LocalListState] = {}

    async def get(self, charge_point_id: str) -> LocalListState | None:
        return self._states.get(charge_point_id)

    async def save(self, charge_point_id: str, state: LocalListState) -> None:
        self._states[charge_point_id] = state
