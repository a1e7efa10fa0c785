"""The PostgreSQL store set: :func:`postgresql_stores` and :class:`PostgresStores`."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import attrs

from ...bundle import Stores
from ._database import Database
from .charge_points import PostgresChargePointStore
from .charging_profiles import PostgresChargingProfileStore
from .configuration import PostgresConfigurationStore
from .device_state import PostgresDeviceStateStore
from .id_tags import PostgresIdTagStore
from .local_lists import PostgresLocalListStore
from .pnc_certificates import PostgresPncCertificateStore
from .reservations import PostgresReservationStore
from .transactions import PostgresTransactionStore

__all__ = ["PostgresStores", "postgresql_stores"]


@attrs.frozen(kw_only=True)
class PostgresStores(Stores):
    """A complete :class:`~ocpp16csms.stores.Stores` over one PostgreSQL database, with its
    :attr:`device_state` and :attr:`pnc_certificates` stores.

    Made by :func:`postgresql_stores`; pass it wherever a ``Stores`` goes. The connection pool
    opens, and the schema is brought up to date, on first use (or on ``async with`` /
    :meth:`open`); close it with :meth:`aclose` (or :meth:`close` from synchronous code, or by
    leaving ``async with``). Once closed, every store method raises
    :class:`~ocpp16csms.stores.StoreError`.
    """

    device_state: PostgresDeviceStateStore
    pnc_certificates: PostgresPncCertificateStore
    _database: Database = attrs.field(alias="database", repr=False, eq=False)

    @property
    def description(self) -> str:
        """The database and host the stores use (never the password)."""
        return self._database.description

    @property
    def pool_size(self) -> int:
        """The most connections the stores open at once."""
        return self._database.pool_size

    async def open(self) -> None:
        """Open the pool and migrate the schema now rather than on first use."""
        await self._database.open()

    async def aclose(self) -> None:
        """Close the pool (connections in use close when their call ends); idempotent."""
        await self._database.aclose()

    def close(self) -> None:
        """:meth:`aclose` for synchronous code."""
        self._database.close()

    async def __aenter__(self) -> PostgresStores:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def postgresql_stores(
    dsn: str,
    *,
    pool_size: int = 10,
    min_pool_size: int = 1,
    timeout: float = 30.0,
    connect_kwargs: Mapping[str, Any] | None = None,
) -> PostgresStores:
    """All seven stores, the device-state store and the Plug & Charge certificate store over
    the PostgreSQL database ``dsn``.

    ``dsn`` is a libpq connection string or URI (``postgresql://user@host/db``); set the schema
    with ``options=-csearch_path=NAME`` in it to keep the tables apart from others. At most
    ``pool_size`` connections are open at once (so at most that many store calls of this process
    run at once; more wait in the event loop), at least ``min_pool_size`` are kept open.
    ``timeout`` is how many seconds a call waits for a free connection (and opening waits for the
    first) before failing with :class:`~ocpp16csms.stores.StoreError`. ``connect_kwargs`` go to
    ``psycopg.connect`` (e.g. ``{"prepare_threshold": None}`` behind a pooler that cannot keep
    prepared statements). Nothing is opened here.
    """
    database = Database(
        dsn,
        pool_size=pool_size,
        min_pool_size=min_pool_size,
        timeout=timeout,
        connect_kwargs=connect_kwargs,
    )
    return PostgresStores(
        charge_points=PostgresChargePointStore(database),
        id_tags=PostgresIdTagStore(database),
        transactions=PostgresTransactionStore(database),
        configuration=PostgresConfigurationStore(database),
        local_lists=PostgresLocalListStore(database),
        reservations=PostgresReservationStore(database),
        charging_profiles=PostgresChargingProfileStore(database),
        device_state=PostgresDeviceStateStore(database),
        pnc_certificates=PostgresPncCertificateStore(database),
        database=database,
    )
