"""Reservation operations (OCPP 1.6 §5.1, §5.13)."""

from __future__ import annotations

from ..operations import Operations

__all__ = ["ReservationOperations"]


class ReservationOperations(Operations):
    """Mixin of :class:`~ocpp16csms.CentralSystem`: ReserveNow, CancelReservation, expiry."""
