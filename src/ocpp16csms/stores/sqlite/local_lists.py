"""SQLite store of the local authorization lists."""

from __future__ import annotations

import json
import sqlite3

from ...datatypes import AuthorizationData
from ...profiles.local_auth_list.store import LocalListState
from ._database import (
    _CONVERTER,
    _READER,
    _dump,
    _SqliteStore,
)

__all__ = ["SqliteLocalListStore"]


class SqliteLocalListStore(_SqliteStore):
    """:class:`~ocpp16csms.stores.LocalListStore` in SQLite (made by :func:`sqlite_stores`).

    One row per charge point: the version and the entries as one JSON array.
    """

    async def get(self, charge_point_id: str) -> LocalListState | None:
        def work(db: sqlite3.Connection) -> LocalListState | None:
            row = db.execute(
                "SELECT version, entries FROM local_lists WHERE charge_point_id = ?",
                (charge_point_id,),
            ).fetchone()
            if row is None:
                return None
            entries = tuple(
                _READER.structure(entry, AuthorizationData) for entry in json.loads(row["entries"])
            )
            return LocalListState(version=row["version"], entries=entries)

        return await self._db.read(work)

    async def save(self, charge_point_id: str, state: LocalListState) -> None:
        entries = _dump([_CONVERTER.unstructure(entry) for entry in state.entries])

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO local_lists (charge_point_id, version, entries)"
                " VALUES (?, ?, ?)",
                (charge_point_id, state.version, entries),
            )

        await self._db.write(work)


# --- reservations ---------------------------------------------------------------------------
