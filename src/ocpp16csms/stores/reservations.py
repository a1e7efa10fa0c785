"""Reservation store (OCPP 1.6 §5.13, §5.1): reservations and their lifecycle."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["MemoryReservationStore", "ReservationStore"]


@runtime_checkable
class ReservationStore(Protocol):
    """Reservations by charge point and reservation id."""


class MemoryReservationStore:
    """:class:`ReservationStore` in memory."""
