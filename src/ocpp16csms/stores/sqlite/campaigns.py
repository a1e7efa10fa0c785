"""SQLite implementation of :class:`~ocpp16csms.profiles.firmware.campaign_store.CampaignStore`.

``SqliteCampaignStore(stores)`` keeps firmware campaigns in the database of a
:class:`~ocpp16csms.stores.sqlite.SqliteStores` (its connection, lock and worker thread);
``SqliteCampaignStore("fleet.db")`` opens a database of its own. Its table is created
(``IF NOT EXISTS``) on first use. Datetimes are ISO 8601 text in their own offset.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...profiles.firmware.campaign_store import CampaignEntry, CampaignState
from .._lossless import escape_text, instant_micros, unescape_text
from ._database import _Database

__all__ = ["SqliteCampaignStore"]

_TABLE = """CREATE TABLE IF NOT EXISTS firmware_campaign_entries (
    campaign_id TEXT NOT NULL,
    charge_point_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status TEXT,
    updated_at TEXT NOT NULL,
    next_attempt_at TEXT,
    attempt_started_at TEXT,
    error TEXT,
    PRIMARY KEY (campaign_id, charge_point_id)
)"""


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    instant_micros(value)  # refuses a naive datetime
    return value.isoformat()


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _text(value: str | None) -> str | None:
    return None if value is None else escape_text(value)


def _read(value: str | None) -> str | None:
    return None if value is None else unescape_text(value)


def _entry(row: sqlite3.Row) -> CampaignEntry:
    return CampaignEntry(
        campaign_id=unescape_text(row["campaign_id"]),
        charge_point_id=unescape_text(row["charge_point_id"]),
        state=CampaignState(row["state"]),
        attempts=row["attempts"],
        last_status=_read(row["last_status"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        next_attempt_at=_when(row["next_attempt_at"]),
        attempt_started_at=_when(row["attempt_started_at"]),
        error=_read(row["error"]),
    )


class SqliteCampaignStore:
    """Firmware campaign entries in SQLite: in a :class:`SqliteStores`' database, or in the
    file at a path (``":memory:"``: a private database); see the module docstring."""

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
            await self._db.write(lambda db: db.execute(_TABLE))
            self._ready = True
        return await (self._db.write(work) if write else self._db.read(work))

    async def save(self, entry: CampaignEntry) -> None:
        values = (
            escape_text(entry.campaign_id),
            escape_text(entry.charge_point_id),
            entry.state.value,
            entry.attempts,
            _text(entry.last_status),
            _iso(entry.updated_at),
            _iso(entry.next_attempt_at),
            _iso(entry.attempt_started_at),
            _text(entry.error),
        )

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO firmware_campaign_entries (campaign_id, charge_point_id,"
                " state, attempts, last_status, updated_at, next_attempt_at, attempt_started_at,"
                " error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

        await self._run(work, write=True)

    async def entries(self, campaign_id: str) -> Sequence[CampaignEntry]:
        key = (escape_text(campaign_id),)

        def work(db: sqlite3.Connection) -> list[CampaignEntry]:
            rows = db.execute(
                "SELECT * FROM firmware_campaign_entries WHERE campaign_id = ?"
                " ORDER BY charge_point_id",
                key,
            )
            return [_entry(row) for row in rows]

        result: list[CampaignEntry] = await self._run(work, write=False)
        return result
