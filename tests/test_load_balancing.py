"""Site load balancing (profiles/smart_charging/load_balancing.py): properties and examples."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms.datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ocpp16csms.enums import ChargingProfileKindType as Kind
from ocpp16csms.enums import ChargingProfilePurposeType as Purpose
from ocpp16csms.enums import ChargingRateUnitType as Unit
from ocpp16csms.profiles.smart_charging import (
    BalancingStrategy,
    InstalledProfile,
    LoadDemand,
    LoadShare,
    TransactionInfo,
    balance_load,
    charge_point_cap,
    composite_schedule,
    tx_profile_for,
)

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
EPS = 1e-9
TENTH = 0.1 + 1e-9

amounts = st.integers(min_value=0, max_value=2000).map(lambda tenths: tenths / 10)


@st.composite
def demands(draw: st.DrawFn) -> LoadDemand:
    minimum = draw(st.sampled_from([0.0, 6.0, 10.0]) | amounts.filter(lambda a: a <= 50))
    maximum = draw(st.none() | amounts.map(lambda a: minimum + a))
    return LoadDemand(
        charge_point_id=draw(st.sampled_from(["CP1", "CP2", "CP3"])),
        connector_id=draw(st.integers(1, 3)),
        priority=draw(st.integers(0, 2)),
        minimum=minimum,
        maximum=maximum,
        number_phases=draw(st.integers(1, 3)),
    )


scenarios = st.tuples(
    st.integers(min_value=0, max_value=5000).map(lambda tenths: tenths / 10),
    st.lists(demands(), max_size=8),
    st.dictionaries(st.sampled_from(["CP1", "CP2", "CP3"]), amounts, max_size=3),
    st.sampled_from(list(BalancingStrategy)),
)


def _by_cp(shares: tuple[LoadShare, ...], cp: str) -> float:
    return sum(s.limit for s in shares if s.demand.charge_point_id == cp)


def _cp_saturated(shares: tuple[LoadShare, ...], caps: dict[str, float], cp: str) -> bool:
    return cp in caps and _by_cp(shares, cp) > caps[cp] - TENTH


@given(scenarios)
def test_shares_respect_the_site_the_charge_points_and_each_bound(scenario: tuple) -> None:
    site, wanted, caps, strategy = scenario
    shares = balance_load(site, wanted, charge_point_caps=caps, strategy=strategy)
    assert [s.demand for s in shares] == wanted
    assert sum(s.limit for s in shares) <= site + EPS
    for cp, cap in caps.items():
        assert _by_cp(shares, cp) <= cap + EPS
    for share in shares:
        assert share.limit == round(share.limit, 1)
        if share.limit > 0 or share.demand.minimum == 0:
            assert share.limit >= share.demand.minimum - EPS
        if share.demand.maximum is not None:
            assert share.limit <= share.demand.maximum + EPS


@given(scenarios)
def test_every_minimum_is_served_when_all_of_them_fit(scenario: tuple) -> None:
    site, wanted, caps, strategy = scenario
    per_cp: dict[str, float] = {}
    for demand in wanted:
        per_cp[demand.charge_point_id] = per_cp.get(demand.charge_point_id, 0) + demand.minimum
    if strategy is BalancingStrategy.PRIORITY or sum(d.minimum for d in wanted) > site:
        return
    if any(total > caps.get(cp, float("inf")) for cp, total in per_cp.items()):
        return
    shares = balance_load(site, wanted, charge_point_caps=caps, strategy=strategy)
    for share in shares:
        assert share.limit >= share.demand.minimum - EPS


@given(scenarios)
def test_equal_share_is_fair_within_a_tenth(scenario: tuple) -> None:
    site, wanted, caps, _ = scenario
    shares = balance_load(site, wanted, charge_point_caps=caps, strategy="equal")
    # Held by no bound: charging, above its minimum, below its maximum, its charge point not full.
    free = [
        s
        for s in shares
        if s.limit > s.demand.minimum + EPS
        and (s.demand.maximum is None or s.limit < s.demand.maximum - EPS)
        and not _cp_saturated(shares, caps, s.demand.charge_point_id)
    ]
    for a in free:
        for b in shares:
            # Nobody the site could still raise gets more than a tenth over a free one.
            if (
                b.limit > b.demand.minimum + EPS
                and not _cp_saturated(shares, caps, b.demand.charge_point_id)
                and (b.demand.maximum is None or b.limit < b.demand.maximum - EPS)
            ):
                assert abs(a.limit - b.limit) <= TENTH


def _room_left(
    shares: tuple[LoadShare, ...], caps: dict[str, float] | None, share: LoadShare
) -> float:
    """What ``share``'s charge point could still take when its turn came: its cap less the
    shares there of at least its priority (served first)."""
    cp = share.demand.charge_point_id
    cap = (caps or {}).get(cp, math.inf)
    before = sum(
        other.limit
        for other in shares
        if other is not share
        and other.demand.charge_point_id == cp
        and other.demand.priority >= share.demand.priority
    )
    return cap - before


@given(scenarios)
def test_higher_priority_never_gets_less_when_its_bounds_allow(scenario: tuple) -> None:
    site, wanted, caps, _ = scenario
    shares = balance_load(site, wanted, charge_point_caps=caps, strategy="priority")
    for high in shares:
        for low in shares:
            if high.demand.priority <= low.demand.priority or high.limit >= low.limit - EPS:
                continue
            bounded = (
                (high.demand.maximum is not None and high.limit >= high.demand.maximum - EPS)
                or _cp_saturated(shares, caps, high.demand.charge_point_id)
                # Paused: its minimum did not fit in what was left when its turn came,
                or (high.limit == 0 and high.demand.minimum > low.limit)
                # or in what its own charge point had left after the shares served before it.
                or (high.limit == 0 and high.demand.minimum > _room_left(shares, caps, high) + EPS)
            )
            assert bounded, (high, low)


def test_equal_shares_with_a_charge_point_cap() -> None:
    wanted = [
        LoadDemand(charge_point_id="A", connector_id=1, minimum=6, maximum=32),
        LoadDemand(charge_point_id="A", connector_id=2, minimum=6, maximum=32),
        LoadDemand(charge_point_id="B", connector_id=1, minimum=6, maximum=16),
        LoadDemand(charge_point_id="C", connector_id=1, minimum=6),
    ]
    shares = balance_load(80, wanted, charge_point_caps={"A": 30})
    assert [s.limit for s in shares] == [15.0, 15.0, 16.0, 34.0]


def test_minimums_that_do_not_fit_pause_the_newest_first() -> None:
    wanted = [LoadDemand(charge_point_id=f"CP{i}", connector_id=1, minimum=6) for i in range(4)]
    shares = balance_load(20, wanted)
    assert [s.limit for s in shares] == [6.7, 6.7, 6.6, 0.0]


def test_strict_priority_serves_the_higher_level_first() -> None:
    wanted = [
        LoadDemand(charge_point_id="A", connector_id=1, minimum=16),
        LoadDemand(charge_point_id="B", connector_id=1, priority=1, maximum=32),
    ]
    shares = balance_load(40, wanted, strategy=BalancingStrategy.PRIORITY)
    assert [s.limit for s in shares] == [0.0, 32.0]
    shares = balance_load(48, wanted, strategy=BalancingStrategy.PRIORITY)
    assert [s.limit for s in shares] == [16.0, 32.0]
    # Equal share: every minimum that fits is served, then the rest is shared.
    shares = balance_load(20, wanted, strategy="equal")
    assert [s.limit for s in shares] == [16.0, 4.0]
    # Priority only picks whose minimum is served when not all fit.
    both = [*wanted, LoadDemand(charge_point_id="C", connector_id=1, priority=1, minimum=10)]
    shares = balance_load(20, both, strategy="equal")
    assert [s.limit for s in shares] == [0.0, 10.0, 10.0]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="site_limit"):
        balance_load(-1, [])
    with pytest.raises(ValueError, match="cap"):
        balance_load(10, [], charge_point_caps={"A": float("nan")})
    with pytest.raises(ValueError, match="below minimum"):
        LoadDemand(charge_point_id="A", connector_id=1, minimum=10, maximum=6)
    with pytest.raises(ValueError, match="connector_id"):
        LoadDemand(charge_point_id="A", connector_id=0)
    with pytest.raises(ValueError, match="round-robin"):
        balance_load(10, [], strategy="round-robin")
    with pytest.raises(TypeError):
        balance_load(10, ["CP1"])  # type: ignore[list-item]


def _cp_max(
    limit: float, unit: Unit, *, phases: int | None = None, start: datetime = T0
) -> ChargingProfile:
    return ChargingProfile(
        charging_profile_id=1,
        stack_level=0,
        charging_profile_purpose=Purpose.CHARGE_POINT_MAX_PROFILE,
        charging_profile_kind=Kind.ABSOLUTE,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=unit,
            start_schedule=start,
            charging_schedule_period=(
                ChargingSchedulePeriod(start_period=0, limit=limit, number_phases=phases),
                ChargingSchedulePeriod(start_period=3600, limit=limit / 2, number_phases=phases),
            ),
        ),
    )


def test_charge_point_cap_reads_the_charge_point_max_profile_now() -> None:
    profile = _cp_max(32, Unit.A, phases=1)
    assert charge_point_cap([profile], at=T0, unit=Unit.A) == 32
    assert charge_point_cap([profile], at=T0 + timedelta(hours=2), unit=Unit.A) == 16
    assert charge_point_cap([profile], at=T0, unit=Unit.W) == 32 * 230
    # Not yet in force, or not a ChargePointMaxProfile: no cap.
    assert charge_point_cap([profile], at=T0 - timedelta(seconds=1), unit=Unit.A) is None
    tx_default = InstalledProfile(
        connector_id=1,
        profile=ChargingProfile(
            charging_profile_id=2,
            stack_level=0,
            charging_profile_purpose=Purpose.TX_DEFAULT_PROFILE,
            charging_profile_kind=Kind.RELATIVE,
            charging_schedule=ChargingSchedule(
                charging_rate_unit=Unit.A,
                charging_schedule_period=(ChargingSchedulePeriod(start_period=0, limit=6),),
            ),
        ),
    )
    assert charge_point_cap([tx_default], at=T0, unit=Unit.A) is None


def test_tx_profile_for_a_share_holds_the_connector_to_it() -> None:
    share = LoadShare(
        demand=LoadDemand(charge_point_id="A", connector_id=2, transaction_id=7, number_phases=1),
        limit=12.5,
    )
    profile = tx_profile_for(share, unit=Unit.A, charging_profile_id=70, start=T0)
    assert profile.charging_profile_purpose is Purpose.TX_PROFILE
    assert profile.transaction_id == 7
    schedule = composite_schedule(
        [InstalledProfile(connector_id=2, profile=profile)],
        connector_id=2,
        start=T0,
        duration=60,
        charging_rate_unit=Unit.A,
        transactions={2: TransactionInfo(transaction_id=7, start=T0)},
    )
    assert schedule is not None
    assert [(p.limit, p.number_phases) for p in schedule.charging_schedule_period] == [(12.5, 1)]
    relative = tx_profile_for(share, unit=Unit.W, charging_profile_id=71)
    assert relative.charging_profile_kind is Kind.RELATIVE
    assert relative.charging_schedule.charging_schedule_period[0].number_phases is None
    with pytest.raises(ValueError, match="timezone"):
        tx_profile_for(share, unit=Unit.A, charging_profile_id=1, start=T0.replace(tzinfo=None))
