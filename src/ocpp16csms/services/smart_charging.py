"""Smart Charging operations (OCPP 1.6 §3.13, §5.5, §5.7, §5.16)."""

from __future__ import annotations

from ..operations import Operations

__all__ = ["SmartChargingOperations"]


class SmartChargingOperations(Operations):
    """Mixin of :class:`~ocpp16csms.CentralSystem`: Set/Clear/GetCompositeSchedule and more."""
