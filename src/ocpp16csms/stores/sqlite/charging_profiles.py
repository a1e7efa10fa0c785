"""SQLite store of installed charging profiles."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence

from ...datatypes import ChargingProfile
from ...enums import (
    ChargingProfilePurposeType,
)
from ...profiles.smart_charging.store import (
    InstalledChargingProfile,
    clear_matches,
    ends_with_transaction,
    replaces,
)
from ._database import (
    _CONVERTER,
    _READER,
    _dump,
    _enum_text,
    _SqliteStore,
)

__all__ = ["SqliteChargingProfileStore"]


def _installed(row: sqlite3.Row) -> InstalledChargingProfile:
    return InstalledChargingProfile(
        charge_point_id=row["charge_point_id"],
        connector_id=row["connector_id"],
        profile=_READER.structure(json.loads(row["profile"]), ChargingProfile),
    )


def _installed_of(
    db: sqlite3.Connection, charge_point_id: str, connector_id: int | None = None
) -> list[InstalledChargingProfile]:
    query = "SELECT * FROM charging_profiles WHERE charge_point_id = ?"
    params: tuple[object, ...] = (charge_point_id,)
    if connector_id is not None:
        query += " AND connector_id = ?"
        params = (charge_point_id, connector_id)
    rows = db.execute(query + " ORDER BY connector_id, charging_profile_id", params)
    return [_installed(row) for row in rows]


def _delete_profiles(db: sqlite3.Connection, items: Sequence[InstalledChargingProfile]) -> None:
    db.executemany(
        "DELETE FROM charging_profiles WHERE charge_point_id = ? AND charging_profile_id = ?",
        [(item.charge_point_id, item.profile.charging_profile_id) for item in items],
    )


class SqliteChargingProfileStore(_SqliteStore):
    """:class:`~ocpp16csms.stores.ChargingProfileStore` in SQLite (made by
    :func:`sqlite_stores`).

    The profile is JSON; its charge point, id, connector, purpose, stack level and transaction
    id are columns too. Which profiles an install replaces and a clear removes is decided by the
    shared rules :func:`~ocpp16csms.stores.replaces` and :func:`~ocpp16csms.stores.clear_matches`
    over the charge point's profiles, read and written in one transaction.
    """

    async def installed(
        self, charge_point_id: str, *, connector_id: int | None = None
    ) -> Sequence[InstalledChargingProfile]:
        def work(db: sqlite3.Connection) -> list[InstalledChargingProfile]:
            return _installed_of(db, charge_point_id, connector_id)

        return await self._db.read(work)

    async def install(self, item: InstalledChargingProfile) -> Sequence[InstalledChargingProfile]:
        profile = item.profile
        values = (
            item.charge_point_id,
            profile.charging_profile_id,
            item.connector_id,
            _enum_text(profile.charging_profile_purpose),
            profile.stack_level,
            profile.transaction_id,
            _dump(_CONVERTER.unstructure(profile)),
        )

        def work(db: sqlite3.Connection) -> list[InstalledChargingProfile]:
            removed = [
                old for old in _installed_of(db, item.charge_point_id) if replaces(item, old)
            ]
            _delete_profiles(db, removed)
            db.execute(
                "INSERT INTO charging_profiles (charge_point_id, charging_profile_id,"
                " connector_id, purpose, stack_level, transaction_id, profile)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            return removed

        return await self._db.write(work)

    async def clear(
        self,
        charge_point_id: str,
        *,
        charging_profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: ChargingProfilePurposeType | None = None,
        stack_level: int | None = None,
    ) -> Sequence[InstalledChargingProfile]:
        def hit(item: InstalledChargingProfile) -> bool:
            return clear_matches(
                item,
                charging_profile_id=charging_profile_id,
                connector_id=connector_id,
                purpose=purpose,
                stack_level=stack_level,
            )

        return await self._remove(charge_point_id, hit)

    async def drop_transaction_profiles(
        self, charge_point_id: str, transaction_id: int, *, connector_id: int | None = None
    ) -> Sequence[InstalledChargingProfile]:
        def hit(item: InstalledChargingProfile) -> bool:
            return ends_with_transaction(item, transaction_id, connector_id)

        return await self._remove(charge_point_id, hit)

    async def _remove(
        self, charge_point_id: str, hit: Callable[[InstalledChargingProfile], bool]
    ) -> Sequence[InstalledChargingProfile]:
        def work(db: sqlite3.Connection) -> list[InstalledChargingProfile]:
            removed = [item for item in _installed_of(db, charge_point_id) if hit(item)]
            _delete_profiles(db, removed)
            return removed

        return await self._db.write(work)
