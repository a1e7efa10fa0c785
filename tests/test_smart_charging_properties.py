"""Properties of composite schedules (§3.13.2, §3.13.3) over generated, valid profiles."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from _smart_charging_helpers import (
    ABSOLUTE,
    CP_MAX,
    TX,
    TX_DEFAULT,
    A,
    W,
    at,
    charging_profiles,
    durations,
    installed_profiles,
    limit_in,
    reference_cp_max,
    reference_inputs,
    reference_limit,
    transaction_maps,
    window_starts,
)
from ocpp16csms.datatypes import (
    ChargingProfile,
    ChargingSchedule,
    ChargingSchedulePeriod,
)
from ocpp16csms.enums import (
    ChargingProfilePurposeType,
    ChargingRateUnitType,
)
from ocpp16csms.profiles.smart_charging import (
    CompositeOptions,
    InstalledProfile,
    TransactionInfo,
    composite_schedule,
    validate_charging_profile,
)

CONNECTORS = (1, 2)
connector_ids = st.sampled_from([0, 1, 2])
units = st.none() | st.sampled_from([A, W])
option_sets = st.builds(
    CompositeOptions,
    tx_profiles_without_transaction=st.booleans(),
    tx_default_fills_tx_profile_gaps=st.booleans(),
    connector_tx_default_replaces_all=st.booleans(),
    recurring_before_start_schedule=st.booleans(),
)


def run(
    installed: Sequence[InstalledProfile],
    connector_id: int,
    start: datetime,
    duration: int,
    unit: ChargingRateUnitType | None,
    transactions: Mapping[int, TransactionInfo],
    options: CompositeOptions = CompositeOptions(),  # noqa: B008 - frozen
) -> ChargingSchedule | None:
    return composite_schedule(
        installed,
        connector_id=connector_id,
        start=start,
        duration=duration,
        charging_rate_unit=unit,
        transactions=transactions,
        connector_ids=CONNECTORS,
        options=options,
    )


def instants(result: ChargingSchedule, start: datetime, duration: int) -> list[datetime]:
    """Every period start, the second before it, and the span's last second."""
    assert result.start_schedule is not None
    assert result.duration is not None
    out = [start, start + timedelta(seconds=duration - 1)]
    for p in result.charging_schedule_period:
        at_start = result.start_schedule + timedelta(seconds=p.start_period)
        out += [at_start, at_start - timedelta(seconds=1)]
    out.append(result.start_schedule + timedelta(seconds=result.duration - 1))
    return [t for t in out if start <= t < start + timedelta(seconds=duration)]


@given(
    installed_profiles(units=(A,)),
    connector_ids,
    window_starts.map(at),
    durations,
    transaction_maps,
    option_sets,
)
def test_agrees_with_the_pointwise_model(
    installed: list[InstalledProfile],
    connector_id: int,
    start: datetime,
    duration: int,
    transactions: dict[int, TransactionInfo],
    options: CompositeOptions,
) -> None:
    result = run(installed, connector_id, start, duration, A, transactions, options)

    def expected(t: datetime) -> float | None:
        return reference_limit(
            installed,
            t,
            connector_id=connector_id,
            start=start,
            unit=A,
            transactions=transactions,
            connector_ids=CONNECTORS,
            options=options,
        )

    if result is None:
        probes = [start + timedelta(seconds=s) for s in range(0, duration, max(1, duration // 50))]
        assert all(expected(t) is None for t in probes)
        return
    for t in instants(result, start, duration):
        want = expected(t)
        got = limit_in(result, t)
        if got is None:
            # Before the covered stretch, or at the gap that ended it.
            assert result.start_schedule is not None
            assert result.duration is not None
            end = result.start_schedule + timedelta(seconds=result.duration)
            if t < result.start_schedule or t == end:
                assert want is None, t
        else:
            assert want is not None, t
            assert got == round(int(want * 10 + 1e-6) / 10, 1), t


@given(
    installed_profiles(), connector_ids, window_starts.map(at), durations, units, transaction_maps
)
def test_never_above_the_charge_point_max(
    installed: list[InstalledProfile],
    connector_id: int,
    start: datetime,
    duration: int,
    unit: ChargingRateUnitType | None,
    transactions: dict[int, TransactionInfo],
) -> None:
    result = run(installed, connector_id, start, duration, unit, transactions)
    if result is None:
        return
    for t in instants(result, start, duration):
        got = limit_in(result, t)
        cap = reference_cp_max(installed, t, start=start, unit=result.charging_rate_unit)
        if got is not None and cap is not None:
            assert got <= cap + 1e-9, t


def period_in(schedule: ChargingSchedule, t: datetime) -> ChargingSchedulePeriod | None:
    """The period of ``schedule`` in force at ``t``, None outside its span."""
    assert schedule.start_schedule is not None
    assert schedule.duration is not None
    offset = (t - schedule.start_schedule).total_seconds()
    if not 0 <= offset < schedule.duration:
        return None
    return [p for p in schedule.charging_schedule_period if p.start_period <= offset][-1]


@st.composite
def limits_in_force(draw: st.DrawFn, purpose: ChargingProfilePurposeType) -> ChargingProfile:
    """A profile in force over every window, with any unit, limit and number of phases."""
    unit = draw(st.sampled_from([A, W]))
    tenths = st.integers(1, 640) if unit is A else st.integers(1, 440_000)
    return ChargingProfile(
        charging_profile_id=draw(st.integers(1, 10**6)),
        stack_level=draw(st.integers(0, 2)),
        charging_profile_purpose=purpose,
        charging_profile_kind=ABSOLUTE,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=unit,
            start_schedule=at(-10 * 86_400),
            charging_schedule_period=(
                ChargingSchedulePeriod(
                    start_period=0,
                    limit=draw(tenths) / 10,
                    number_phases=draw(st.sampled_from([None, 1, 2, 3])),
                ),
            ),
        ),
    )


@given(
    installed_profiles(max_size=6),
    limits_in_force(CP_MAX),
    limits_in_force(TX_DEFAULT),
    st.sampled_from(CONNECTORS),
    window_starts.map(at),
    durations,
    units,
    transaction_maps,
)
def test_never_above_any_input_in_either_unit(
    installed: list[InstalledProfile],
    cap: ChargingProfile,
    default: ChargingProfile,
    connector_id: int,
    start: datetime,
    duration: int,
    unit: ChargingRateUnitType | None,
    transactions: dict[int, TransactionInfo],
) -> None:
    # The connector's own limit and the ChargePointMaxProfile, on whatever phases each has: the
    # composite is at most each of them, read in amperes and in watts alike.
    options = CompositeOptions()
    installed = [
        *installed,
        InstalledProfile(connector_id=0, profile=cap),
        InstalledProfile(connector_id=connector_id, profile=default),
    ]
    result = run(installed, connector_id, start, duration, unit, transactions)
    assert result is not None
    for t in instants(result, start, duration):
        period = period_in(result, t)
        if period is None:
            continue
        watts_per_amp = options.nominal_voltage * (
            period.number_phases or options.default_number_phases
        )
        got = {A: period.limit, W: period.limit}
        if result.charging_rate_unit is A:
            got[W] = period.limit * watts_per_amp
        else:
            got[A] = period.limit / watts_per_amp
        inputs = reference_inputs(
            installed,
            t,
            connector_id=connector_id,
            start=start,
            unit=result.charging_rate_unit,
            transactions=transactions,
            options=options,
        )
        assert len(inputs) == 2, t
        for limit in inputs:
            for u in (A, W):
                assert got[u] <= limit[u] * (1 + 1e-9) + 1e-9, (t, u, got, limit)


@given(
    installed_profiles(),
    connector_ids,
    window_starts.map(at),
    durations,
    units,
    transaction_maps,
    st.randoms(use_true_random=False),
)
def test_the_order_of_the_profiles_does_not_matter(
    installed: list[InstalledProfile],
    connector_id: int,
    start: datetime,
    duration: int,
    unit: ChargingRateUnitType | None,
    transactions: dict[int, TransactionInfo],
    rnd: random.Random,
) -> None:
    shuffled = list(installed)
    rnd.shuffle(shuffled)
    assert run(shuffled, connector_id, start, duration, unit, transactions) == run(
        installed, connector_id, start, duration, unit, transactions
    )


def _covering(
    purpose: ChargingProfilePurposeType, stack_level: int, start: datetime
) -> ChargingProfile:
    return ChargingProfile(
        charging_profile_id=999,
        stack_level=stack_level,
        charging_profile_purpose=purpose,
        charging_profile_kind=ABSOLUTE,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=A,
            start_schedule=start - timedelta(days=1),
            charging_schedule_period=(ChargingSchedulePeriod(start_period=0, limit=24.0),),
        ),
    )


@given(
    st.sampled_from([CP_MAX, TX_DEFAULT, TX]),
    installed_profiles(),
    st.data(),
    window_starts.map(at),
    durations,
    units,
)
def test_a_profile_below_one_covering_the_window_changes_nothing(
    purpose: ChargingProfilePurposeType,
    installed: list[InstalledProfile],
    data: st.DataObject,
    start: datetime,
    duration: int,
    unit: ChargingRateUnitType | None,
) -> None:
    # Connector 1 is charging, so that TxProfiles apply.
    transactions = {1: TransactionInfo(transaction_id=1, start=start)}
    connector = 0 if purpose is CP_MAX else 1
    top = InstalledProfile(connector_id=connector, profile=_covering(purpose, 5, start))
    lower = data.draw(charging_profiles(purpose=purpose))
    lower = attrs.evolve(lower, stack_level=data.draw(st.integers(0, 4)))
    where = data.draw(st.sampled_from([0, 1] if purpose is TX_DEFAULT else [connector]))
    added = [*installed, top, InstalledProfile(connector_id=where, profile=lower)]
    # The result's unit is pinned: an added profile in another unit could change the default.
    unit = unit or A
    assert run(added, 1, start, duration, unit, transactions) == run(
        [*installed, top], 1, start, duration, unit, transactions
    )


def _shift_profile(p: ChargingProfile, delta: timedelta) -> ChargingProfile:
    def moved(t: datetime | None) -> datetime | None:
        return None if t is None else t + delta

    schedule = attrs.evolve(
        p.charging_schedule, start_schedule=moved(p.charging_schedule.start_schedule)
    )
    return attrs.evolve(
        p,
        charging_schedule=schedule,
        valid_from=moved(p.valid_from),
        valid_to=moved(p.valid_to),
    )


@given(
    installed_profiles(),
    connector_ids,
    window_starts.map(at),
    durations,
    units,
    transaction_maps,
    st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)),
)
def test_shifting_every_time_shifts_the_result(
    installed: list[InstalledProfile],
    connector_id: int,
    start: datetime,
    duration: int,
    unit: ChargingRateUnitType | None,
    transactions: dict[int, TransactionInfo],
    delta: timedelta,
) -> None:
    shifted = [
        InstalledProfile(connector_id=i.connector_id, profile=_shift_profile(i.profile, delta))
        for i in installed
    ]
    moved_transactions = {
        c: attrs.evolve(tx, start=tx.start + delta) for c, tx in transactions.items()
    }
    before = run(installed, connector_id, start, duration, unit, transactions)
    after = run(shifted, connector_id, start + delta, duration, unit, moved_transactions)
    if before is None:
        assert after is None
    else:
        assert before.start_schedule is not None
        assert after == attrs.evolve(before, start_schedule=before.start_schedule + delta)


@given(
    installed_profiles(),
    connector_ids,
    window_starts.map(at)
    | st.datetimes(timezones=st.just(at(0).tzinfo)).filter(lambda t: t.year > 1),
    durations,
    units,
    transaction_maps,
    option_sets,
)
def test_periods_are_increasing_inside_the_window_and_merged(
    installed: list[InstalledProfile],
    connector_id: int,
    start: datetime,
    duration: int,
    unit: ChargingRateUnitType | None,
    transactions: dict[int, TransactionInfo],
    options: CompositeOptions,
) -> None:
    result = run(installed, connector_id, start, duration, unit, transactions, options)
    if result is None:
        return
    periods = result.charging_schedule_period
    assert result.start_schedule is not None
    assert result.duration is not None
    assert periods[0].start_period == 0
    offset = (result.start_schedule - start).total_seconds()
    assert offset == int(offset)
    assert offset >= 0
    assert offset + result.duration <= duration
    assert all(0 <= p.start_period < result.duration for p in periods)
    for before, after in itertools.pairwise(periods):
        assert before.start_period < after.start_period
        assert (before.limit, before.number_phases) != (after.limit, after.number_phases)
    if unit is not None:
        assert result.charging_rate_unit is unit


@given(st.data())
def test_generated_profiles_are_valid(data: st.DataObject) -> None:
    installed = data.draw(installed_profiles())
    for item in installed:
        running = {item.connector_id: item.profile.transaction_id or 1}
        validate_charging_profile(
            item.profile, connector_id=item.connector_id, active_transaction_ids=running
        )
