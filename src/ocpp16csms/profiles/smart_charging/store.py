"""Charging profile store (OCPP 1.6 §3.13, §5.5, §5.16): the profiles each charge point has.

The store mirrors what the central system believes each charge point holds: a profile goes in
when SetChargingProfile was answered Accepted, and leaves when ClearChargingProfile was answered
Accepted or when the transaction of a TxProfile stops. The rules that decide which stored
profiles a new one replaces and which ones a clear removes are the pure functions
:func:`replaces` and :func:`clear_matches`, so every implementation applies the same ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

import attrs

from ...datatypes import ChargingProfile
from ...enums import ChargingProfilePurposeType

__all__ = [
    "ChargingProfileStore",
    "InstalledChargingProfile",
    "MemoryChargingProfileStore",
    "clear_matches",
    "ends_with_transaction",
    "replaces",
]


@attrs.frozen(kw_only=True)
class InstalledChargingProfile:
    """A profile a charge point accepted, on the connector it was set on (0: the charge point)."""

    charge_point_id: str
    connector_id: int = attrs.field(validator=attrs.validators.ge(0))
    profile: ChargingProfile


def replaces(new: InstalledChargingProfile, old: InstalledChargingProfile) -> bool:
    """Whether installing ``new`` removes ``old`` from the same charge point (§5.16, §3.13.2).

    The same chargingProfileId replaces on any connector; otherwise the same connector, purpose
    and stackLevel does.
    """
    if new.charge_point_id != old.charge_point_id:
        return False
    if new.profile.charging_profile_id == old.profile.charging_profile_id:
        return True
    return (
        new.connector_id == old.connector_id
        and new.profile.charging_profile_purpose is old.profile.charging_profile_purpose
        and new.profile.stack_level == old.profile.stack_level
    )


def clear_matches(
    item: InstalledChargingProfile,
    *,
    charging_profile_id: int | None = None,
    connector_id: int | None = None,
    purpose: ChargingProfilePurposeType | None = None,
    stack_level: int | None = None,
) -> bool:
    """Whether ClearChargingProfile with these fields removes ``item`` (§5.5, §6.15).

    With ``charging_profile_id`` only the profile with that id matches, whatever the other
    fields say. Otherwise every given criterion must hold, and none given matches every profile.
    ``connector_id`` is the connector the profile was set on (0: the charge point's own).
    ``docs/smart-charging.md`` explains why.
    """
    profile = item.profile
    if charging_profile_id is not None:
        return profile.charging_profile_id == charging_profile_id
    return (
        (connector_id is None or item.connector_id == connector_id)
        and (purpose is None or profile.charging_profile_purpose is purpose)
        and (stack_level is None or profile.stack_level == stack_level)
    )


def _order(item: InstalledChargingProfile) -> tuple[int, int]:
    return item.connector_id, item.profile.charging_profile_id


@runtime_checkable
class ChargingProfileStore(Protocol):
    """The charging profiles the central system believes each charge point has installed.

    A charge point never holds two profiles with the same chargingProfileId, nor two on one
    connector with the same purpose and stackLevel; :meth:`install` keeps it that way.
    """

    async def installed(
        self, charge_point_id: str, *, connector_id: int | None = None
    ) -> Sequence[InstalledChargingProfile]:
        """The charge point's profiles (set on ``connector_id`` only, when given), ordered by
        connector id, then chargingProfileId; empty for an unknown charge point."""
        ...

    async def install(self, item: InstalledChargingProfile) -> Sequence[InstalledChargingProfile]:
        """Add ``item``, removing what it :func:`replaces`; return the removed profiles."""
        ...

    async def clear(
        self,
        charge_point_id: str,
        *,
        charging_profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: ChargingProfilePurposeType | None = None,
        stack_level: int | None = None,
    ) -> Sequence[InstalledChargingProfile]:
        """Remove the profiles that :func:`clear_matches` selects; return them."""
        ...

    async def drop_transaction_profiles(
        self, charge_point_id: str, transaction_id: int, *, connector_id: int | None = None
    ) -> Sequence[InstalledChargingProfile]:
        """Remove the TxProfiles of a transaction that stopped (§3.13.1); return them.

        Those naming ``transaction_id`` go; with ``connector_id``, so do the TxProfiles on that
        connector that name no transaction, as they applied to whatever ran there. Repeating
        the call removes nothing more.
        """
        ...


def ends_with_transaction(
    item: InstalledChargingProfile, transaction_id: int, connector_id: int | None
) -> bool:
    """Whether ``item`` goes when ``transaction_id`` stops (§3.13.1): a TxProfile naming it, or
    with ``connector_id`` a TxProfile on that connector naming no transaction."""
    profile = item.profile
    if profile.charging_profile_purpose is not ChargingProfilePurposeType.TX_PROFILE:
        return False
    if profile.transaction_id is None:
        return connector_id is not None and item.connector_id == connector_id
    return profile.transaction_id == transaction_id


class MemoryChargingProfileStore:
    """:class:`ChargingProfileStore` in memory."""

    def __init__(self, items: Iterable[InstalledChargingProfile] = ()) -> None:
        self._items: dict[str, list[InstalledChargingProfile]] = {}
        for item in items:
            self._install(item)

    async def installed(
        self, charge_point_id: str, *, connector_id: int | None = None
    ) -> Sequence[InstalledChargingProfile]:
        held = self._items.get(charge_point_id)
        if not held:  # most charge points, asked on every stop
            return []
        return sorted(
            (item for item in held if connector_id is None or item.connector_id == connector_id),
            key=_order,
        )

    async def install(self, item: InstalledChargingProfile) -> Sequence[InstalledChargingProfile]:
        return self._install(item)

    def _install(self, item: InstalledChargingProfile) -> list[InstalledChargingProfile]:
        held = self._items.setdefault(item.charge_point_id, [])
        removed = sorted((old for old in held if replaces(item, old)), key=_order)
        held[:] = [old for old in held if not replaces(item, old)]
        held.append(item)
        return removed

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

        return self._remove(charge_point_id, hit)

    async def drop_transaction_profiles(
        self, charge_point_id: str, transaction_id: int, *, connector_id: int | None = None
    ) -> Sequence[InstalledChargingProfile]:
        def hit(item: InstalledChargingProfile) -> bool:
            return ends_with_transaction(item, transaction_id, connector_id)

        return self._remove(charge_point_id, hit)

    def _remove(
        self, charge_point_id: str, hit: Callable[[InstalledChargingProfile], bool]
    ) -> Sequence[InstalledChargingProfile]:
        held = self._items.get(charge_point_id)
        if not held:  # the usual case on a stop: no profile installed there
            return []
        removed = sorted((item for item in held if hit(item)), key=_order)
        held[:] = [item for item in held if not hit(item)]
        return removed
