"""Site load balancing: share a site's limit among its running transactions (OCPP 1.6 §3.13).

:func:`balance_load` is pure: given the site limit, the connectors that charge (each with its
priority, its minimum and maximum and its charge point) and each charge point's own cap (the
limit of its ChargePointMaxProfile now: :func:`charge_point_cap`), it returns a limit per
connector, for the host to send as TxProfiles. No I/O, no clock. ``docs/fleet-operations.md``
has the rules and a recipe.

Amounts are in one unit, the site's: amperes (the current on each phase a connector draws,
added up over connectors as if all shared one phase, which is the safe reading when the phase
rotation is unknown) or watts. Results are multiples of 0.1, the one decimal OCPP gives a
limit (§7.13), rounded so that their sum never exceeds the site limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs

from ...datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ...enums import ChargingProfileKindType as Kind
from ...enums import ChargingProfilePurposeType as Purpose
from ...enums import ChargingRateUnitType as Unit
from .composite import CompositeOptions, InstalledProfile, composite_schedule

__all__ = [
    "BalancingStrategy",
    "LoadDemand",
    "LoadShare",
    "balance_load",
    "charge_point_cap",
    "tx_profile_for",
]


class BalancingStrategy(StrEnum):
    """How :func:`balance_load` divides what is left once the minimums are served."""

    EQUAL = "equal"
    """Every connector the same share within its bounds; priority only decides whose minimum
    is served when not all fit."""
    PRIORITY = "priority"
    """Strict priority: a level is served up to its maximums before a lower level gets
    anything, even its minimum; connectors of one level share equally."""


def _check_amount(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


def _amount(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None:
        _check_amount(attribute.name, value)


@attrs.frozen(kw_only=True)
class LoadDemand:
    """A connector that charges, as :func:`balance_load` sees it.

    ``minimum`` and ``maximum`` (None: no maximum of its own) are in the site's unit; a
    connector that cannot have its minimum gets 0 (paused) rather than less. ``number_phases``
    (1 to 3) is how many phases it charges on: it goes into the TxProfile in amperes.
    """

    charge_point_id: str
    connector_id: int = attrs.field(validator=attrs.validators.ge(1))
    transaction_id: int | None = None
    priority: int = 0
    minimum: float = attrs.field(default=0.0, validator=_amount)
    maximum: float | None = attrs.field(default=None, validator=_amount)
    number_phases: int = attrs.field(
        default=3, validator=[attrs.validators.ge(1), attrs.validators.le(3)]
    )

    def __attrs_post_init__(self) -> None:
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError(f"maximum {self.maximum} is below minimum {self.minimum}")


@attrs.frozen(kw_only=True)
class LoadShare:
    """The limit :func:`balance_load` gives one connector (0: paused), in the site's unit."""

    demand: LoadDemand
    limit: float


# Arithmetic is in integer tenths of the unit: exact, and the result is already OCPP's grain.
def _tenths_down(value: float) -> int:
    return math.floor(round(value * 10, 6))


def _tenths_up(value: float) -> int:
    return math.ceil(round(value * 10, 6))


@attrs.define
class _Item:
    index: int
    group: str
    low: int
    high: int
    level: int
    allocation: int = 0


def balance_load(
    site_limit: float,
    demands: Sequence[LoadDemand],
    *,
    charge_point_caps: Mapping[str, float] | None = None,
    strategy: BalancingStrategy | str = BalancingStrategy.EQUAL,
) -> tuple[LoadShare, ...]:
    """Divide ``site_limit`` among ``demands``; one :class:`LoadShare` per demand, in order.

    ``charge_point_caps`` bounds the sum of each charge point's connectors (its
    ChargePointMaxProfile now, in the site's unit; see :func:`charge_point_cap`). Guarantees:
    the shares add up to at most ``site_limit`` and each charge point's to at most its cap;
    each share is 0 or between its demand's minimum and maximum; minimums are served in
    priority order, then in the order of ``demands`` (so list the oldest transaction first),
    and a demand whose minimum no longer fits gets 0; what is left is shared max-min fairly
    (water filling), so two connectors that neither bound holds differ by at most 0.1.
    """
    _check_amount("site_limit", site_limit)
    chosen = BalancingStrategy(strategy)
    caps = {}
    for cp, cap in (charge_point_caps or {}).items():
        _check_amount(f"the cap of {cp!r}", cap)
        caps[cp] = _tenths_down(cap)
    capacity = _tenths_down(site_limit)
    items = []
    for index, demand in enumerate(demands):
        if not isinstance(demand, LoadDemand):
            raise TypeError(f"demands must be LoadDemand, got {demand!r}")
        low = _tenths_up(demand.minimum)
        high = capacity if demand.maximum is None else min(capacity, _tenths_down(demand.maximum))
        items.append(_Item(index, demand.charge_point_id, low, high, demand.priority))
    room = {cp: caps.get(cp, capacity) for cp in {item.group for item in items}}

    def admit(candidates: Iterable[_Item]) -> list[_Item]:
        nonlocal capacity
        admitted = []
        for item in candidates:
            # A minimum is served whole or not at all (below it a vehicle cannot charge).
            if item.low <= item.high and item.low <= capacity and item.low <= room[item.group]:
                capacity -= item.low
                room[item.group] -= item.low
                item.allocation = item.low
                admitted.append(item)
        return admitted

    if chosen is BalancingStrategy.PRIORITY:
        for level in sorted({item.level for item in items}, reverse=True):
            capacity = _fill(admit(i for i in items if i.level == level), capacity, room)
    else:
        _fill(admit(sorted(items, key=lambda i: (-i.level, i.index))), capacity, room)
    return tuple(
        LoadShare(demand=demand, limit=item.allocation / 10)
        for demand, item in zip(demands, items, strict=True)
    )


def _fill(items: list[_Item], capacity: int, room: dict[str, int]) -> int:
    """Raise ``items`` from their minimums by water filling; return the capacity left.

    ``room`` is what each charge point may still take; both are updated.
    """
    if not items:
        return capacity
    base = {id(item): item.allocation for item in items}

    def raised(item: _Item, level: int) -> int:
        return max(base[id(item)], min(level, item.high))

    def group_extra(members: list[_Item], level: int) -> int:
        return sum(raised(i, level) - base[id(i)] for i in members)

    groups: dict[str, list[_Item]] = {}
    for item in items:
        groups.setdefault(item.group, []).append(item)

    def total(level: int) -> int:
        return sum(min(room[g], group_extra(m, level)) for g, m in groups.items())

    top = max(item.high for item in items)
    level = _largest(lambda lam: total(lam) <= capacity, top)
    for group, members in groups.items():
        # A charge point whose cap binds first fills its own connectors fairly up to the cap.
        def fits(lam: int, members: list[_Item] = members, group: str = group) -> bool:
            return group_extra(members, lam) <= room[group]

        own = _largest(fits, level)
        for item in members:
            item.allocation = raised(item, own)
        spare = room[group] - group_extra(members, own)
        if own < level:
            for item in members:
                if spare and raised(item, own + 1) > item.allocation:
                    item.allocation += 1
                    spare -= 1
        used = sum(item.allocation - base[id(item)] for item in members)
        room[group] -= used
        capacity -= used
    # The rest of the site's capacity: one tenth more each, in order, where the level rises.
    for item in items:
        if capacity == 0:
            break
        if room[item.group] > 0 and raised(item, level + 1) > item.allocation:
            item.allocation += 1
            room[item.group] -= 1
            capacity -= 1
    return capacity


def _largest(holds: Callable[[int], bool], high: int) -> int:
    """The largest ``x`` in [0, high] for which ``holds(x)`` (monotone, true at 0)."""
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        if holds(middle):
            low = middle
        else:
            high = middle - 1
    return low


def charge_point_cap(
    profiles: Iterable[ChargingProfile | InstalledProfile],
    *,
    at: datetime,
    unit: Unit,
    options: CompositeOptions | None = None,
) -> float | None:
    """The limit the charge point's ChargePointMaxProfiles set at ``at``, in ``unit``.

    Only connector 0's ChargePointMaxProfiles count (§3.13.1); other profiles are ignored.
    The composite-schedule engine stacks them and converts between A and W with
    ``options`` (the periods' numberPhases, else ``options.default_number_phases``).
    None when none is in force at ``at``.
    """
    installed = []
    for profile in profiles:
        item = (
            profile
            if isinstance(profile, InstalledProfile)
            else InstalledProfile(connector_id=0, profile=profile)
        )
        if (
            item.connector_id == 0
            and item.profile.charging_profile_purpose is Purpose.CHARGE_POINT_MAX_PROFILE
        ):
            installed.append(item)
    schedule = composite_schedule(
        installed,
        connector_id=0,
        start=at,
        duration=1,
        charging_rate_unit=unit,
        connector_ids=(),
        options=options or CompositeOptions(),
    )
    if schedule is None or schedule.start_schedule != at:
        return None
    return schedule.charging_schedule_period[0].limit


def tx_profile_for(
    share: LoadShare,
    *,
    unit: Unit,
    charging_profile_id: int,
    stack_level: int = 0,
    start: datetime | None = None,
) -> ChargingProfile:
    """The TxProfile (§3.13.1, §5.16) that holds ``share``'s connector to its limit.

    An Absolute profile (``start``, timezone-aware, as its startSchedule) or, without
    ``start``, a Relative one, with one period and the share's transaction id. In amperes it
    names the demand's number of phases.
    """
    if start is not None and (start.tzinfo is None or start.utcoffset() is None):
        raise ValueError(f"start must be timezone-aware, got {start!r}")
    phases = share.demand.number_phases if unit is Unit.A else None
    return ChargingProfile(
        charging_profile_id=charging_profile_id,
        stack_level=stack_level,
        charging_profile_purpose=Purpose.TX_PROFILE,
        charging_profile_kind=Kind.RELATIVE if start is None else Kind.ABSOLUTE,
        transaction_id=share.demand.transaction_id,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=unit,
            start_schedule=start,
            charging_schedule_period=(
                ChargingSchedulePeriod(start_period=0, limit=share.limit, number_phases=phases),
            ),
        ),
    )
