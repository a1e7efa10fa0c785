"""Where a firmware campaign keeps the state of each charge point (docs/fleet-operations.md).

A :class:`CampaignEntry` per campaign and charge point, written on every change, so that a
campaign built again after a restart (same ``campaign_id``) goes on where it stopped. The
protocol is two methods; :class:`MemoryCampaignStore` is here, a SQLite one in
``ocpp16csms.stores.sqlite`` (:class:`~ocpp16csms.stores.sqlite.SqliteCampaignStore`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = [
    "TERMINAL_STATES",
    "CampaignEntry",
    "CampaignState",
    "CampaignStore",
    "MemoryCampaignStore",
]


class CampaignState(StrEnum):
    """Where one charge point is in a firmware campaign."""

    PENDING = "Pending"
    """Not sent yet: waits for a free slot (the campaign's concurrency limit)."""
    OFFLINE = "Offline"
    """Could not be reached: sent again as soon as it connects (or boots)."""
    UPDATING = "Updating"
    """The update was accepted; the campaign waits for Installed (holds a slot)."""
    RETRY_SCHEDULED = "RetryScheduled"
    """An attempt failed; the next one is due at ``next_attempt_at``."""
    INSTALLED = "Installed"
    """Done: the charge point reported Installed (or booted with the expected version)."""
    FAILED = "Failed"
    """Given up: attempts used up, or a refusal that retrying cannot change."""
    CANCELLED = "Cancelled"
    """Taken out of the campaign by the host."""


TERMINAL_STATES = frozenset(
    {CampaignState.INSTALLED, CampaignState.FAILED, CampaignState.CANCELLED}
)
"""The states a charge point never leaves."""


def _aware(_: object, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{attribute.name} {value!r} is naive; it must be timezone-aware")


@attrs.frozen(kw_only=True)
class CampaignEntry:
    """One charge point in one campaign.

    ``attempts`` counts the updates sent (a charge point that was offline has not been
    tried); ``last_status`` is the newest firmware status it reported during the campaign;
    ``attempt_started_at`` when the current attempt was accepted; ``error`` why the last
    attempt failed. Datetimes are the central system's clock, timezone-aware.
    """

    campaign_id: str
    charge_point_id: str
    state: CampaignState = attrs.field(converter=CampaignState)
    attempts: int = 0
    last_status: str | None = None
    updated_at: datetime = attrs.field(validator=_aware)
    next_attempt_at: datetime | None = attrs.field(default=None, validator=_aware)
    attempt_started_at: datetime | None = attrs.field(default=None, validator=_aware)
    error: str | None = None


@runtime_checkable
class CampaignStore(Protocol):
    """The entries of firmware campaigns; every write replaces the entry with the same key."""

    async def save(self, entry: CampaignEntry) -> None:
        """Keep ``entry``, replacing the one with the same campaign and charge point."""
        ...

    async def entries(self, campaign_id: str) -> Sequence[CampaignEntry]:
        """Every entry of the campaign, ordered by charge point id."""
        ...


class MemoryCampaignStore:
    """:class:`CampaignStore` in memory (a restart forgets it)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], CampaignEntry] = {}

    async def save(self, entry: CampaignEntry) -> None:
        self._entries[entry.campaign_id, entry.charge_point_id] = entry

    async def entries(self, campaign_id: str) -> Sequence[CampaignEntry]:
        return sorted(
            (e for (c, _), e in self._entries.items() if c == campaign_id),
            key=lambda e: e.charge_point_id,
        )
