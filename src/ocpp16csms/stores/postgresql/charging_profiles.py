""":class:`~ocpp16csms.stores.ChargingProfileStore` in PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...datatypes import ChargingProfile
from ...enums import ChargingProfilePurposeType
from ...profiles.smart_charging.store import InstalledChargingProfile, clear_matches, replaces
from .._lossless import dump_value, load_value
from ._database import Cursor, PostgresStore
from ._values import enum_text, read_text, text

__all__ = ["PostgresChargingProfileStore"]

# First key of the two-key advisory locks that serialise the writes of one charge point's
# profiles (the second is a hash of its id); "ocpp" in ASCII.
_LOCK_SPACE = int.from_bytes(b"ocpp", "big")


def _installed(row: Mapping[str, Any]) -> InstalledChargingProfile:
    return InstalledChargingProfile(
        charge_point_id=read_text(row["charge_point_id"]),
        connector_id=row["connector_id"],
        profile=load_value(row["profile"], ChargingProfile),
    )


def _installed_of(
    cursor: Cursor, charge_point_id: str, connector_id: int | None = None
) -> list[InstalledChargingProfile]:
    query = "SELECT * FROM charging_profiles WHERE charge_point_id = %s"
    params: tuple[object, ...] = (text(charge_point_id),)
    if connector_id is not None:
        query += " AND connector_id = %s"
        params = (*params, connector_id)
    rows = cursor.execute(query + " ORDER BY connector_id, charging_profile_id", params)
    return [_installed(row) for row in rows.fetchall()]


def _lock(cursor: Cursor, charge_point_id: str) -> None:
    # Held until the transaction ends: installs and clears of one charge point run one after
    # the other, in whatever process, so each reads the profiles the previous one left.
    cursor.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_SPACE, text(charge_point_id))
    )


def _delete(cursor: Cursor, items: Sequence[InstalledChargingProfile]) -> None:
    if items:
        cursor.execute(
            "DELETE FROM charging_profiles WHERE charge_point_id = %s"
            " AND charging_profile_id = ANY(%s)",
            (
                text(items[0].charge_point_id),
                [item.profile.charging_profile_id for item in items],
            ),
        )


class PostgresChargingProfileStore(PostgresStore):
    """:class:`~ocpp16csms.stores.ChargingProfileStore` in PostgreSQL (made by
    :func:`~ocpp16csms.stores.postgresql.postgresql_stores`).

    The profile is JSON; its charge point, id, connector, purpose, stack level and transaction
    id are columns too. A write reads the charge point's profiles, applies the shared rules
    :func:`~ocpp16csms.stores.replaces` or :func:`~ocpp16csms.stores.clear_matches`, and writes,
    in one transaction under a per-charge-point advisory lock.
    """

    async def installed(
        self, charge_point_id: str, *, connector_id: int | None = None
    ) -> Sequence[InstalledChargingProfile]:
        def work(cursor: Cursor) -> list[InstalledChargingProfile]:
            return _installed_of(cursor, charge_point_id, connector_id)

        return await self._db.read(work)

    async def install(self, item: InstalledChargingProfile) -> Sequence[InstalledChargingProfile]:
        profile = item.profile
        values = (
            text(item.charge_point_id),
            profile.charging_profile_id,
            item.connector_id,
            enum_text(profile.charging_profile_purpose),
            profile.stack_level,
            profile.transaction_id,
            dump_value(profile),
        )

        def work(cursor: Cursor) -> list[InstalledChargingProfile]:
            _lock(cursor, item.charge_point_id)
            held = _installed_of(cursor, item.charge_point_id)
            removed = [old for old in held if replaces(item, old)]
            _delete(cursor, removed)
            cursor.execute(
                "INSERT INTO charging_profiles (charge_point_id, charging_profile_id,"
                " connector_id, purpose, stack_level, transaction_id, profile)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
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
            profile = item.profile
            if profile.charging_profile_purpose is not ChargingProfilePurposeType.TX_PROFILE:
                return False
            if profile.transaction_id is None:
                return connector_id is not None and item.connector_id == connector_id
            return profile.transaction_id == transaction_id

        return await self._remove(charge_point_id, hit)

    async def _remove(
        self, charge_point_id: str, hit: Callable[[InstalledChargingProfile], bool]
    ) -> Sequence[InstalledChargingProfile]:
        def look(cursor: Cursor) -> bool:
            return any(hit(item) for item in _installed_of(cursor, charge_point_id))

        # Most calls remove nothing (a stopped transaction rarely had a TxProfile): a removal
        # that finds nothing to remove is a read, and a snapshot read is as good as a locked
        # one for it, so the lock and transaction are taken only when there is something.
        if not await self._db.read(look):
            return []

        def work(cursor: Cursor) -> list[InstalledChargingProfile]:
            _lock(cursor, charge_point_id)
            removed = [item for item in _installed_of(cursor, charge_point_id) if hit(item)]
            _delete(cursor, removed)
            return removed

        return await self._db.write(work)
