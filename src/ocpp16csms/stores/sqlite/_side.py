"""A table of its own beside a :class:`~ocpp16csms.stores.sqlite.SqliteStores` database.

Stores that are not part of the bundle (firmware campaigns, the outbox) keep a table in the
bundle's database (its connection, lock and worker thread) or in a file of their own; the
table is created (``IF NOT EXISTS``) on first use. Datetimes are ISO 8601 text in their own
offset, strings escaped losslessly.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, ClassVar

from .._lossless import escape_text, instant_micros, unescape_text
from ._database import _Database

__all__ = ["SideTableStore", "iso", "read_text", "text", "when"]


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of an aware datetime in its own offset (a naive one is refused)."""
    if value is None:
        return None
    instant_micros(value)  # refuses a naive datetime
    return value.isoformat()


def when(value: str | None) -> datetime | None:
    """The datetime :func:`iso` wrote."""
    return None if value is None else datetime.fromisoformat(value)


def text(value: str | None) -> str | None:
    """A string as stored (NUL and lone surrogates escaped)."""
    return None if value is None else escape_text(value)


def read_text(value: str | None) -> str | None:
    """The string :func:`text` stored."""
    return None if value is None else unescape_text(value)


class SideTableStore:
    """Base of a store with one table: in a :class:`SqliteStores`' database, or in the file at a
    path (``":memory:"``: a private database)."""

    TABLE: ClassVar[str]
    """The ``CREATE TABLE IF NOT EXISTS`` statement of the store's table."""

    def __init__(self, database: Any, *, timeout: float = 5.0) -> None:
        shared = getattr(database, "_database", None)
        if isinstance(shared, _Database):
            self._db = shared
        elif isinstance(database, str | os.PathLike):
            self._db = _Database(os.fspath(database), timeout=timeout)
        else:
            raise TypeError(f"expected SqliteStores or a path, got {type(database).__name__}")
        self._ready = False

    async def aclose(self) -> None:
        """Close the database connection (that of the :class:`SqliteStores`, when shared)."""
        await self._db.aclose()

    async def _run(self, work: Any, *, write: bool) -> Any:
        if not self._ready:
            await self._db.write(lambda db: db.execute(self.TABLE))
            self._ready = True
        return await (self._db.write(work) if write else self._db.read(work))
