"""PostgreSQL implementations of every store protocol (the ``postgresql`` extra).

``postgresql_stores(dsn)`` returns a :class:`PostgresStores` for one database shared by any
number of processes. ``docs/stores-postgresql.md`` describes the schema, the guarantees with
several processes, and the device-state store.
"""

from .charge_points import PostgresChargePointStore
from .charging_profiles import PostgresChargingProfileStore
from .configuration import PostgresConfigurationStore
from .device_state import PostgresDeviceStateStore
from .factory import PostgresStores, postgresql_stores
from .id_tags import PostgresIdTagStore
from .local_lists import PostgresLocalListStore
from .reservations import PostgresReservationStore
from .transactions import PostgresTransactionStore

__all__ = [
    "PostgresChargePointStore",
    "PostgresChargingProfileStore",
    "PostgresConfigurationStore",
    "PostgresDeviceStateStore",
    "PostgresIdTagStore",
    "PostgresLocalListStore",
    "PostgresReservationStore",
    "PostgresStores",
    "PostgresTransactionStore",
    "postgresql_stores",
]
