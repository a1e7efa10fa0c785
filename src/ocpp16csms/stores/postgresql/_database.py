"""The connection pool the PostgreSQL stores share, and how a store call uses it.

psycopg's asynchronous connections run on asyncio only, so the stores use its synchronous
connections, from a ``psycopg_pool.ConnectionPool``, in worker threads
(``anyio.to_thread.run_sync``): the same code runs under asyncio and trio, and the event loop
never waits on the database. A capacity limiter as large as the pool (one per event loop, as
anyio limiters belong to one) keeps waiting calls queued in the event loop rather than in threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import psycopg
import psycopg.conninfo
import psycopg.errors
from anyio.lowlevel import RunVar
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from ..records import StoreError
from ._schema import migrate
from ._values import configure_adapters

__all__ = ["Cursor", "Database", "PostgresStore", "describe"]

_T = TypeVar("_T")

Cursor = psycopg.Cursor[DictRow]

# Lock conflicts PostgreSQL resolves by aborting one side: the work is re-run, a few times.
_RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
_ATTEMPTS = 5


def describe(dsn: str) -> str:
    """Database and host of ``dsn`` for messages (never the password)."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "PostgreSQL database (unparsable connection string)"
    name = params.get("dbname") or "(default database)"
    host = params.get("host") or "(default host)"
    return f"PostgreSQL database {name!r} on {host}"


def _configure(connection: psycopg.Connection[Any]) -> None:
    configure_adapters(connection)


class Database:
    """One connection pool, opened on first use (migrating the schema), closed once."""

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int,
        min_pool_size: int,
        timeout: float,
        connect_kwargs: Mapping[str, Any] | None,
    ) -> None:
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        if not 0 <= min_pool_size <= pool_size:
            raise ValueError(
                f"min_pool_size must be from 0 to pool_size ({pool_size}), got {min_pool_size}"
            )
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.description = describe(dsn)
        self.pool_size = pool_size
        self._dsn = dsn
        self._min_pool_size = min_pool_size
        self._timeout = timeout
        self._connect_kwargs = dict(connect_kwargs or {})
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._closed = False
        self._limiters: RunVar[anyio.CapacityLimiter] = RunVar("ocpp16csms postgresql limiter")

    # -- calls from the event loop ----------------------------------------------------------

    async def read(self, work: Callable[[Cursor], _T]) -> _T:
        """Run ``work`` (one statement) outside a transaction: a read sees committed data."""
        return await self._in_thread(work, False)

    async def write_one(self, work: Callable[[Cursor], _T]) -> _T:
        """Run ``work``, a single statement (atomic by itself), outside a transaction."""
        return await self._in_thread(work, False)

    async def write(self, work: Callable[[Cursor], _T]) -> _T:
        """Run ``work`` in one transaction: committed whole when it returns, else rolled back."""
        return await self._in_thread(work, True)

    async def open(self) -> None:
        await self._limited(self._open)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self.close)

    async def _in_thread(self, work: Callable[[Cursor], _T], transaction: bool) -> _T:
        return await self._limited(lambda: self._run(work, transaction))

    async def _limited(self, function: Callable[[], _T]) -> _T:
        limiter = self._limiters.get(None)
        if limiter is None:
            limiter = anyio.CapacityLimiter(self.pool_size)
            self._limiters.set(limiter)
        # Not abandoned on cancellation: a call in progress finishes (or rolls back) first.
        return await anyio.to_thread.run_sync(function, limiter=limiter)

    # -- in worker threads --------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _open(self) -> ConnectionPool:
        with self._lock:
            if self._closed:
                raise StoreError(f"the stores of {self.description} are closed")
            if self._pool is not None:
                return self._pool
            pool = ConnectionPool(
                self._dsn,
                min_size=self._min_pool_size,
                max_size=self.pool_size,
                open=False,
                kwargs={**self._connect_kwargs, "autocommit": True},
                configure=_configure,
                timeout=self._timeout,
                name="ocpp16csms",
            )
            try:
                pool.open(wait=self._min_pool_size > 0, timeout=self._timeout)
                with pool.connection() as connection:
                    migrate(connection)
            except BaseException as exc:
                pool.close()
                if isinstance(exc, PoolTimeout | psycopg.Error):
                    raise StoreError(f"opening {self.description}: {exc}") from exc
                raise
            self._pool = pool
            return pool

    def _run(self, work: Callable[[Cursor], _T], transaction: bool) -> _T:
        pool = self._open()
        attempt = 0
        while True:
            attempt += 1
            try:
                with pool.connection() as connection:
                    if not transaction:
                        with connection.cursor(binary=True, row_factory=dict_row) as cursor:
                            return work(cursor)
                    with (
                        connection.transaction(),
                        connection.cursor(binary=True, row_factory=dict_row) as cursor,
                    ):
                        return work(cursor)
            except _RETRYABLE as exc:
                if attempt >= _ATTEMPTS:
                    raise StoreError(f"{self.description}: {exc}") from exc
            except PoolTimeout as exc:
                raise StoreError(
                    f"{self.description}: no connection free within {self._timeout} s"
                ) from exc
            except psycopg.Error as exc:
                raise StoreError(f"{self.description}: {exc}") from exc


class PostgresStore:
    """Base of the stores: each holds the :class:`Database` its store set shares."""

    def __init__(self, database: Database) -> None:
        self._db = database
