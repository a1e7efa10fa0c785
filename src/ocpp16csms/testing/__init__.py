"""Public testing kit: a charge point simulator, and hypothesis strategies for every message.

The simulator needs nothing beyond the library; its Plug & Charge side (``PncChargePoint``,
imported on first use) needs the ``pnc`` extra to make CSRs and check certificates. The
strategies (``payloads``, ``faulty_payloads``, ``instances``, ``message_classes``) need
``hypothesis`` and are imported on first use, so importing the simulator never requires it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..connection import MemoryConnection, memory_connection_pair
from .simulator import Answer, ChargePointSimulator, ChargingSession, default_answers

if TYPE_CHECKING:
    from .pnc_simulator import PncChargePoint
    from .schema_strategies import faulty_payloads, payloads
    from .strategies import instances, message_classes

__all__ = [
    "Answer",
    "ChargePointSimulator",
    "ChargingSession",
    "MemoryConnection",
    "PncChargePoint",
    "default_answers",
    "faulty_payloads",
    "instances",
    "memory_connection_pair",
    "message_classes",
    "payloads",
]

_LAZY = {
    "faulty_payloads": ".schema_strategies",
    "payloads": ".schema_strategies",
    "instances": ".strategies",
    "message_classes": ".strategies",
    "PncChargePoint": ".pnc_simulator",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
