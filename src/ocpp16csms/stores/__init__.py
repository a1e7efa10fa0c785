"""Storage protocols the host implements, and the in-memory reference implementations."""

from .charging_profiles import ChargingProfileStore, MemoryChargingProfileStore
from .local_lists import LocalListState, LocalListStore, MemoryLocalListStore
from .memory import (
    MemoryChargePointStore,
    MemoryConfigurationStore,
    MemoryIdTagStore,
    MemoryTransactionStore,
    memory_stores,
)
from .protocols import (
    BootInfo,
    ChargePointRecord,
    ChargePointStore,
    ConfigurationStore,
    ConnectorStatus,
    IdTagRecord,
    IdTagStore,
    StoredMeterValue,
    StoreError,
    Stores,
    TransactionRecord,
    TransactionStart,
    TransactionStop,
    TransactionStore,
    UnknownChargePoint,
)
from .reservations import (
    MemoryReservationStore,
    ReservationRecord,
    ReservationState,
    ReservationStore,
)

__all__ = [
    "BootInfo",
    "ChargePointRecord",
    "ChargePointStore",
    "ChargingProfileStore",
    "ConfigurationStore",
    "ConnectorStatus",
    "IdTagRecord",
    "IdTagStore",
    "LocalListState",
    "LocalListStore",
    "MemoryChargePointStore",
    "MemoryChargingProfileStore",
    "MemoryConfigurationStore",
    "MemoryIdTagStore",
    "MemoryLocalListStore",
    "MemoryReservationStore",
    "MemoryTransactionStore",
    "ReservationRecord",
    "ReservationState",
    "ReservationStore",
    "StoreError",
    "StoredMeterValue",
    "Stores",
    "TransactionRecord",
    "TransactionStart",
    "TransactionStop",
    "TransactionStore",
    "UnknownChargePoint",
    "memory_stores",
]
