"""Storage protocols the host implements, and the in-memory reference implementations."""

from .charging_profiles import (
    ChargingProfileStore,
    InstalledChargingProfile,
    MemoryChargingProfileStore,
    clear_matches,
    replaces,
)
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
from .sqlite import SqliteStores, sqlite_stores

__all__ = [
    "BootInfo",
    "ChargePointRecord",
    "ChargePointStore",
    "ChargingProfileStore",
    "ConfigurationStore",
    "ConnectorStatus",
    "IdTagRecord",
    "IdTagStore",
    "InstalledChargingProfile",
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
    "SqliteStores",
    "StoreError",
    "StoredMeterValue",
    "Stores",
    "TransactionRecord",
    "TransactionStart",
    "TransactionStop",
    "TransactionStore",
    "UnknownChargePoint",
    "clear_matches",
    "memory_stores",
    "replaces",
    "sqlite_stores",
]
