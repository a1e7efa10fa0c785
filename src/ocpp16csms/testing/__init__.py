"""Public testing kit: hypothesis strategies for every message, and a charge point simulator."""

from __future__ import annotations

from ..connection import MemoryConnection, memory_connection_pair
from .schema_strategies import faulty_payloads, payloads
from .simulator import Answer, ChargePointSimulator, ChargingSession, default_answers
from .strategies import instances, message_classes

__all__ = [
    "Answer",
    "ChargePointSimulator",
    "ChargingSession",
    "MemoryConnection",
    "default_answers",
    "faulty_payloads",
    "instances",
    "memory_connection_pair",
    "message_classes",
    "payloads",
]
