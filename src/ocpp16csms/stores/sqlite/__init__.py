"""SQLite reference stores for every store protocol (standard library ``sqlite3`` only).

One module per store; :func:`sqlite_stores` opens one database for all of them.
"""

from __future__ import annotations

import os
from types import TracebackType

import attrs

from ...bundle import Stores
from ._database import _Database
from .campaigns import SqliteCampaignStore
from .charge_points import SqliteChargePointStore
from .charging_profiles import SqliteChargingProfileStore
from .configuration import SqliteConfigurationStore
from .device_state import SqliteDeviceStateStore
from .id_tags import SqliteIdTagStore
from .local_lists import SqliteLocalListStore
from .outbox import SqliteOutboxStore
from .pnc_certificates import SqlitePncCertificateStore
from .reservations import SqliteReservationStore
from .transactions import SqliteTransactionStore

__all__ = [
    "SqliteCampaignStore",
    "SqliteChargePointStore",
    "SqliteChargingProfileStore",
    "SqliteConfigurationStore",
    "SqliteDeviceStateStore",
    "SqliteIdTagStore",
    "SqliteLocalListStore",
    "SqliteOutboxStore",
    "SqlitePncCertificateStore",
    "SqliteReservationStore",
    "SqliteStores",
    "SqliteTransactionStore",
    "sqlite_stores",
]


@attrs.frozen(kw_only=True)
class SqliteStores(Stores):
    """A complete :class:`~ocpp16csms.stores.Stores` over one SQLite database.

    Made by :func:`sqlite_stores`; pass it wherever a ``Stores`` goes. The connection opens on
    first use (or on ``async with`` / :meth:`open`); close it with :meth:`aclose` (or
    :meth:`close` from synchronous code, or by leaving ``async with``). Once closed, every store
    method raises :class:`~ocpp16csms.stores.StoreError`.
    """

    _database: _Database = attrs.field(alias="database", repr=False, eq=False)

    @property
    def path(self) -> str:
        """The database file (``":memory:"`` for a private in-memory database)."""
        return self._database.path

    async def open(self) -> None:
        """Open the database and create the schema now rather than on first use."""
        await self._database.open()

    async def aclose(self) -> None:
        """Close the connection (after the call in progress, if any); idempotent."""
        await self._database.aclose()

    def close(self) -> None:
        """:meth:`aclose` for synchronous code (blocks while a call is in progress)."""
        self._database.close()

    async def __aenter__(self) -> SqliteStores:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def sqlite_stores(
    path: str | os.PathLike[str] = ":memory:", *, timeout: float = 5.0
) -> SqliteStores:
    """All eight stores over the SQLite database at ``path`` (created when missing).

    The default ``":memory:"`` is a private database that lives until the stores are closed.
    ``timeout`` is how many seconds a write waits for another connection's lock on the same file
    before failing with :class:`~ocpp16csms.stores.StoreError`. Nothing is opened here; the
    database is opened and its schema created in a worker thread on first use.
    """
    database = _Database(os.fspath(path), timeout=timeout)
    return SqliteStores(
        charge_points=SqliteChargePointStore(database),
        id_tags=SqliteIdTagStore(database),
        transactions=SqliteTransactionStore(database),
        configuration=SqliteConfigurationStore(database),
        local_lists=SqliteLocalListStore(database),
        reservations=SqliteReservationStore(database),
        charging_profiles=SqliteChargingProfileStore(database),
        device_state=SqliteDeviceStateStore(database),
        pnc_certificates=SqlitePncCertificateStore(database),
        database=database,
    )
