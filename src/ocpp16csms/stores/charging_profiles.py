"""Charging profile store (OCPP 1.6 §3.13, §5.16, §5.5): the profiles each charge point has."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["ChargingProfileStore", "MemoryChargingProfileStore"]


@runtime_checkable
class ChargingProfileStore(Protocol):
    """The charging profiles the central system believes each charge point has installed."""


class MemoryChargingProfileStore:
    """:class:`ChargingProfileStore` in memory."""
