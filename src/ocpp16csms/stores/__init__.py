"""The Core store protocols every feature shares, and their in-memory implementations.

Feature stores (charging profiles, local lists, reservations) live in their feature package;
the :class:`~ocpp16csms.Stores` bundle and the factories (``memory_stores``,
``sqlite_stores``) are exported at the top level. Backends are subpackages
(``ocpp16csms.stores.sqlite``).
"""

from .memory import (
    MemoryChargePointStore,
    MemoryConfigurationStore,
    MemoryIdTagStore,
    MemoryTransactionStore,
)
from .records import (
    BootInfo,
    ChargePointRecord,
    ChargePointStore,
    ConfigurationStore,
    ConnectorStatus,
    IdTagRecord,
    IdTagStore,
    StoredMeterValue,
    StoreError,
    TransactionRecord,
    TransactionStart,
    TransactionStop,
    TransactionStore,
    UnconfirmedEnd,
    UnconfirmedEndCause,
    UnknownChargePoint,
    UnmatchedStop,
    UnmatchedStopCause,
)

__all__ = [
    "BootInfo",
    "ChargePointRecord",
    "ChargePointStore",
    "ConfigurationStore",
    "ConnectorStatus",
    "IdTagRecord",
    "IdTagStore",
    "MemoryChargePointStore",
    "MemoryConfigurationStore",
    "MemoryIdTagStore",
    "MemoryTransactionStore",
    "StoreError",
    "StoredMeterValue",
    "TransactionRecord",
    "TransactionStart",
    "TransactionStop",
    "TransactionStore",
    "UnconfirmedEnd",
    "UnconfirmedEndCause",
    "UnknownChargePoint",
    "UnmatchedStop",
    "UnmatchedStopCause",
]
