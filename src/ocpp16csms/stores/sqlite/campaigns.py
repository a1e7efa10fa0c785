"""SQLite implementation of :class:`~ocpp16csms.profiles.firmware.campaign_store.CampaignStore`.

``SqliteCampaignStore(stores)`` keeps firmware campaigns in the database of a
:class:`~ocpp16csms.stores.sqlite.SqliteStores` (its connection, lock and worker thread);
``SqliteCampaignStore("fleet.db")`` opens a database of its own. Its table is created
(``IF NOT EXISTS``) on first use. Datetimes are ISO 8601 text in their own offset.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from ...profiles.firmware.campaign_store import CampaignEntry, CampaignState
from .._lossless import escape_text, unescape_text
from ._side import SideTableStore, iso, read_text, text, when

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


def _entry(row: sqlite3.Row) -> CampaignEntry:
    return CampaignEntry(
        campaign_id=unescape_text(row["campaign_id"]),
        charge_point_id=unescape_text(row["charge_point_id"]),
        state=CampaignState(row["state"]),
        attempts=row["attempts"],
        last_status=read_text(row["last_status"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        next_attempt_at=when(row["next_attempt_at"]),
        attempt_started_at=when(row["attempt_started_at"]),
        error=read_text(row["error"]),
    )


class SqliteCampaignStore(SideTableStore):
    """Firmware campaign entries in SQLite: in a :class:`SqliteStores`' database, or in the
    file at a path (``":memory:"``: a private database); see the module docstring."""

    TABLE = _TABLE

    async def save(self, entry: CampaignEntry) -> None:
        values = (
            escape_text(entry.campaign_id),
            escape_text(entry.charge_point_id),
            entry.state.value,
            entry.attempts,
            text(entry.last_status),
            iso(entry.updated_at),
            iso(entry.next_attempt_at),
            iso(entry.attempt_started_at),
            text(entry.error),
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
