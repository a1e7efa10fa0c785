"""Builders, hypothesis strategies and a pointwise reference model for the smart charging tests.

The reference model (:func:`reference_limit`) answers "what limit applies at this one instant"
straight from the rules of §3.13, one instant at a time, with none of the engine's sweeping,
merging or microsecond arithmetic; the properties compare the engine against it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from ocpp16csms.messages import (
    ChargingProfile,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    ChargingSchedule,
    ChargingSchedulePeriod,
    RecurrencyKindType,
)
from ocpp16csms.profiles.smart_charging import (
    CompositeOptions,
    InstalledProfile,
    TransactionInfo,
)

A = ChargingRateUnitType.A
W = ChargingRateUnitType.W
ABSOLUTE = ChargingProfileKindType.ABSOLUTE
RELATIVE = ChargingProfileKindType.RELATIVE
RECURRING = ChargingProfileKindType.RECURRING
DAILY = RecurrencyKindType.DAILY
WEEKLY = RecurrencyKindType.WEEKLY
CP_MAX = ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE
TX_DEFAULT = ChargingProfilePurposeType.TX_DEFAULT_PROFILE
TX = ChargingProfilePurposeType.TX_PROFILE

T0 = datetime(2024, 1, 1, tzinfo=UTC)
"""A Monday, midnight UTC: the scenarios' time origin."""
HOUR = 3600
DAY = 86_400
DEFAULTS = CompositeOptions()


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def profile(
    purpose: ChargingProfilePurposeType,
    periods: Sequence[tuple[int, float] | tuple[int, float, int | None]],
    *,
    kind: ChargingProfileKindType = ABSOLUTE,
    stack_level: int = 0,
    unit: ChargingRateUnitType = A,
    start_schedule: datetime | None = T0,
    duration: int | None = None,
    recurrency_kind: RecurrencyKindType | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    transaction_id: int | None = None,
    profile_id: int = 1,
) -> ChargingProfile:
    """A profile from ``(start_period, limit[, number_phases])`` triples."""
    if kind is RELATIVE:
        start_schedule = None
    return ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=stack_level,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        recurrency_kind=recurrency_kind,
        transaction_id=transaction_id,
        valid_from=valid_from,
        valid_to=valid_to,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=unit,
            start_schedule=start_schedule,
            duration=duration,
            charging_schedule_period=tuple(
                ChargingSchedulePeriod(
                    start_period=p[0], limit=p[1], number_phases=p[2] if len(p) > 2 else None
                )
                for p in periods
            ),
        ),
    )


def on(connector_id: int, *profiles: ChargingProfile) -> list[InstalledProfile]:
    return [InstalledProfile(connector_id=connector_id, profile=p) for p in profiles]


def shape(schedule: ChargingSchedule | None) -> tuple[int, int, list[tuple[int, float]]] | None:
    """(offset of start_schedule from T0 in s, duration, [(start_period, limit), ...])."""
    if schedule is None:
        return None
    assert schedule.start_schedule is not None
    return (
        int((schedule.start_schedule - T0).total_seconds()),
        schedule.duration or 0,
        [(p.start_period, p.limit) for p in schedule.charging_schedule_period],
    )


# --- reference model ------------------------------------------------------------------------


def _period_at(
    p: ChargingProfile, t: datetime, relative_start: datetime, options: CompositeOptions
) -> ChargingSchedulePeriod | None:
    if p.valid_from is not None and t < p.valid_from:
        return None
    if p.valid_to is not None and t >= p.valid_to:
        return None
    schedule = p.charging_schedule
    anchor = schedule.start_schedule
    if p.charging_profile_kind is RELATIVE or anchor is None:
        anchor = relative_start
    length = math.inf if schedule.duration is None else schedule.duration
    if p.charging_profile_kind is RECURRING and p.recurrency_kind is not None:
        every = timedelta(days=1 if p.recurrency_kind is DAILY else 7)
        k = (t - anchor) // every
        if k < 0 and not options.recurring_before_start_schedule:
            return None
        anchor += k * every
        length = min(length, every.total_seconds())
    offset = (t - anchor).total_seconds()
    if offset < 0 or offset >= length:
        return None
    found = None
    for period in schedule.charging_schedule_period:
        if period.start_period <= offset:
            found = period
    return found


def _value(
    p: ChargingProfile,
    period: ChargingSchedulePeriod,
    unit: ChargingRateUnitType,
    o: CompositeOptions,
) -> float:
    own = p.charging_schedule.charging_rate_unit
    if own is unit:
        return period.limit
    factor = o.nominal_voltage * (period.number_phases or o.default_number_phases)
    return period.limit * factor if unit is W else period.limit / factor


Winner = tuple[ChargingProfile, ChargingSchedulePeriod]
"""The profile that prevails at an instant, and its period in force."""


def _winner(
    candidates: Iterable[tuple[ChargingProfile, int]],
    t: datetime,
    relative_start: datetime,
    unit: ChargingRateUnitType,
    options: CompositeOptions,
) -> Winner | None:
    best: tuple[tuple[int, int, float, int], Winner] | None = None
    for p, specificity in candidates:
        period = _period_at(p, t, relative_start, options)
        if period is None:
            continue
        # Equal limits at an equal rank: the engine's order, phases absent first.
        order = -1 if period.number_phases is None else period.number_phases
        key = (-p.stack_level, -specificity, _value(p, period, unit, options), order)
        if best is None or key < best[0]:
            best = key, (p, period)
    return None if best is None else best[1]


def _prevailing(
    candidates: Iterable[tuple[ChargingProfile, int]],
    t: datetime,
    relative_start: datetime,
    unit: ChargingRateUnitType,
    options: CompositeOptions,
) -> float | None:
    won = _winner(candidates, t, relative_start, unit, options)
    return None if won is None else _value(*won, unit, options)


def _cp_max_winner(
    installed: Iterable[InstalledProfile],
    t: datetime,
    *,
    start: datetime,
    unit: ChargingRateUnitType,
    options: CompositeOptions,
) -> Winner | None:
    chosen = [
        (i.profile, 0)
        for i in installed
        if i.connector_id == 0 and i.profile.charging_profile_purpose is CP_MAX
    ]
    return _winner(chosen, t, start, unit, options)


def reference_cp_max(
    installed: Iterable[InstalledProfile],
    t: datetime,
    *,
    start: datetime,
    unit: ChargingRateUnitType,
    options: CompositeOptions = DEFAULTS,
) -> float | None:
    """The prevailing ChargePointMaxProfile limit at ``t``, in ``unit``."""
    won = _cp_max_winner(installed, t, start=start, unit=unit, options=options)
    return None if won is None else _value(*won, unit, options)


def _connector_winner(
    installed: Sequence[InstalledProfile],
    c: int,
    t: datetime,
    *,
    start: datetime,
    unit: ChargingRateUnitType,
    transactions: Mapping[int, TransactionInfo],
    options: CompositeOptions,
) -> Winner | None:
    tx = transactions.get(c)
    relative_start = start if tx is None else tx.start
    tx_profiles = [
        (i.profile, 0)
        for i in installed
        if i.profile.charging_profile_purpose is TX
        and i.connector_id == c
        and tx is not None
        and (i.profile.transaction_id in (None, tx.transaction_id) or tx.transaction_id is None)
    ]
    won = _winner(tx_profiles, t, relative_start, unit, options)
    if won is not None or (tx_profiles and not options.tx_default_fills_tx_profile_gaps):
        return won
    if tx is None and not options.tx_profiles_without_transaction:
        return None
    defaults = [
        (i.profile, 1 if i.connector_id == c else 0)
        for i in installed
        if i.profile.charging_profile_purpose is TX_DEFAULT and i.connector_id in (0, c)
    ]
    if options.connector_tx_default_replaces_all and any(s for _, s in defaults):
        defaults = [(p, s) for p, s in defaults if s]
    return _winner(defaults, t, relative_start, unit, options)


Limit = tuple[float, int | None]
"""A limit in the result's unit, with its number of phases (None: not given)."""


def _limit(
    won: Winner | None, unit: ChargingRateUnitType, options: CompositeOptions
) -> Limit | None:
    return None if won is None else (_value(*won, unit, options), won[1].number_phases)


def _lower(a: Limit, b: Limit, unit: ChargingRateUnitType, options: CompositeOptions) -> float:
    """The phases rule: two limits on different phase counts meet on the fewer phases."""
    pa = a[1] or options.default_number_phases
    pb = b[1] or options.default_number_phases
    if pa == pb or unit is A:
        return min(a[0], b[0])
    return min(a[0] / pa, b[0] / pb) * min(pa, pb)


def reference_inputs(
    installed: Sequence[InstalledProfile],
    t: datetime,
    *,
    connector_id: int,
    start: datetime,
    unit: ChargingRateUnitType,
    transactions: Mapping[int, TransactionInfo],
    options: CompositeOptions = DEFAULTS,
) -> list[dict[ChargingRateUnitType, float]]:
    """The limits a connector's composite combines at ``t`` (its own prevailing profile and the
    ChargePointMaxProfile), each in A and in W with its own phases. ``unit`` breaks ties."""
    won = [
        _connector_winner(
            installed,
            connector_id,
            t,
            start=start,
            unit=unit,
            transactions=transactions,
            options=options,
        ),
        _cp_max_winner(installed, t, start=start, unit=unit, options=options),
    ]
    return [{u: _value(*w, u, options) for u in (A, W)} for w in won if w is not None]


def reference_limit(
    installed: Sequence[InstalledProfile],
    t: datetime,
    *,
    connector_id: int,
    start: datetime,
    unit: ChargingRateUnitType,
    transactions: Mapping[int, TransactionInfo],
    connector_ids: Iterable[int],
    options: CompositeOptions = DEFAULTS,
) -> float | None:
    """The composite limit at ``t`` (None: no limit), before rounding."""
    gap = None
    if options.gap_limit:
        gap = options.gap_limit.get(unit)

    def connector_limit(c: int) -> Limit | None:
        won = _connector_winner(
            installed, c, t, start=start, unit=unit, transactions=transactions, options=options
        )
        return _limit(won, unit, options)

    level: Limit | None
    if connector_id > 0:
        level = connector_limit(connector_id)
    else:
        level = None
        ids = sorted(connector_ids)
        if ids:
            parts = [connector_limit(c) for c in ids]
            if gap is not None:
                parts = [(gap, None) if x is None else x for x in parts]
            if None not in parts:
                known = [x for x in parts if x is not None]
                # As the engine: the sum takes the most phases given by its parts.
                phases = [x[1] for x in known if x[1] is not None]
                level = sum(x[0] for x in known), max(phases) if phases else None
    cap = _limit(
        _cp_max_winner(installed, t, start=start, unit=unit, options=options), unit, options
    )
    if level is not None and cap is not None:
        return _lower(level, cap, unit, options)
    if level is not None:
        return level[0]
    if cap is not None:
        return cap[0]
    return gap


def limit_in(schedule: ChargingSchedule, t: datetime) -> float | None:
    """The limit ``schedule`` sets at ``t``, None outside its span."""
    assert schedule.start_schedule is not None
    assert schedule.duration is not None
    offset = (t - schedule.start_schedule).total_seconds()
    if offset < 0 or offset >= schedule.duration:
        return None
    found = None
    for period in schedule.charging_schedule_period:
        if period.start_period <= offset:
            found = period.limit
    return found


# --- strategies -----------------------------------------------------------------------------

# Times on a 15-minute grid meet often (shared boundaries, exact recurrences); the odd-second
# ones keep the engine honest about everything else. Profiles start within a few days of T0 and
# windows within a day of it, so that most windows meet several profiles.
offsets = st.integers(-3 * 96, 2 * 96).map(lambda q: q * 900) | st.integers(-3 * DAY, 2 * DAY)
window_starts = st.integers(-96, 96).map(lambda q: q * 900) | st.integers(-DAY, DAY)
period_steps = st.sampled_from([60, 900, 3600, 7200, 6 * HOUR, DAY, 2 * DAY]) | st.integers(1, DAY)
durations = st.sampled_from([HOUR, DAY, 3 * DAY, 8 * DAY]) | st.integers(1, 8 * DAY)


@st.composite
def schedule_periods(
    draw: st.DrawFn, unit: ChargingRateUnitType
) -> tuple[ChargingSchedulePeriod, ...]:
    steps = draw(st.lists(period_steps, min_size=0, max_size=5))
    starts = [0]
    for step in steps:
        starts.append(starts[-1] + step)
    tenths = st.integers(0, 640) if unit is A else st.integers(0, 440_000)
    return tuple(
        ChargingSchedulePeriod(
            start_period=s,
            limit=draw(tenths) / 10,
            number_phases=draw(st.sampled_from([None, 1, 2, 3])),
        )
        for s in starts
    )


@st.composite
def charging_profiles(
    draw: st.DrawFn,
    purpose: ChargingProfilePurposeType | None = None,
    units: Sequence[ChargingRateUnitType] = (A, W),
) -> ChargingProfile:
    """A ChargingProfile that passes :func:`validate_charging_profile` for its purpose."""
    purpose = purpose or draw(st.sampled_from([CP_MAX, TX_DEFAULT, TX]))
    kinds = [ABSOLUTE, RECURRING] if purpose is CP_MAX else [ABSOLUTE, RECURRING, RELATIVE]
    kind = draw(st.sampled_from(kinds))
    unit = draw(st.sampled_from(units))
    recurrency = draw(st.sampled_from([DAILY, WEEKLY])) if kind is RECURRING else None
    start_schedule = None if kind is RELATIVE else at(draw(offsets))
    valid_from = draw(st.none() | st.none() | offsets.map(at))
    valid_to = draw(st.none() | st.none() | offsets.map(at))
    if valid_from is not None and valid_to is not None and valid_from >= valid_to:
        valid_from, valid_to = valid_to - timedelta(hours=1), valid_from
    return ChargingProfile(
        charging_profile_id=draw(st.integers(1, 10**6)),
        stack_level=draw(st.integers(0, 2)),
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        recurrency_kind=recurrency,
        transaction_id=draw(st.none() | st.sampled_from([1, 2])) if purpose is TX else None,
        valid_from=valid_from,
        valid_to=valid_to,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=unit,
            charging_schedule_period=draw(schedule_periods(unit)),
            start_schedule=start_schedule,
            duration=draw(st.none() | st.none() | period_steps),
        ),
    )


@st.composite
def installed_profiles(
    draw: st.DrawFn,
    units: Sequence[ChargingRateUnitType] = (A, W),
    min_size: int = 2,
    max_size: int = 10,
) -> list[InstalledProfile]:
    """Profiles on a two-connector charge point, each on a connector its purpose allows."""
    out = []
    for p in draw(st.lists(charging_profiles(units=units), min_size=min_size, max_size=max_size)):
        purpose = p.charging_profile_purpose
        connector = (
            0 if purpose is CP_MAX else draw(st.integers(0 if purpose is TX_DEFAULT else 1, 2))
        )
        out.append(InstalledProfile(connector_id=connector, profile=p))
    return out


transaction_maps = st.dictionaries(
    st.sampled_from([1, 2]),
    st.builds(
        TransactionInfo,
        transaction_id=st.none() | st.sampled_from([1, 2]),
        start=window_starts.map(at),
    ),
)
