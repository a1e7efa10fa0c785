"""PostgreSQL implementations of every store protocol (the ``postgresql`` extra).

``postgresql_stores(dsn)`` returns a :class:`PostgresStores` for one database shared by any
number of processes. ``docs/stores-postgresql.md`` describes the schema, the guarantees with
several processes, the device-state store and the Plug & Charge certificate store.
"""

from .charge_points import PostgresChargePointStore
from .charging_profiles import PostgresChargingProfileStore
from .configuration import PostgresConfigurationStore
from .device_state import PostgresDeviceStateStore
from .factory import PostgresStores, postgresql_stores
from .id_tags import PostgresIdTagStore
from .local_lists import PostgresLocalListStore
from .pnc_certificates import PostgresPncCertificateStore
from .reservations import PostgresReservationStore
from .transactions import PostgresTransactionStore

__all__ = [
    "PostgresChargePointStore",
    "PostgresChargingProfileStore",
    "PostgresConfigurationStore",
    "PostgresDeviceStateStore",
    "PostgresIdTagStore",
    "PostgresLocalListStore",
    "PostgresPncCertificateStore",
    "PostgresReservationStore",
    "PostgresStores",
    "PostgresTransactionStore",
    "postgresql_stores",
]
