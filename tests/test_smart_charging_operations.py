"""Smart Charging, central system → charge point: Set/Clear/GetCompositeSchedule, the profile
store kept in step with the answers, the expected composite schedule and the comparison."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

import attrs
import pytest

from harness import T0, FakeClock, connected, make_central_system
from ocpp16csms import (
    CentralSystem,
    InvalidRequest,
    memory_stores,
)
from ocpp16csms.datatypes import (
    ChargingProfile,
    ChargingSchedule,
    ChargingSchedulePeriod,
)
from ocpp16csms.enums import (
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearChargingProfileStatus,
    GetCompositeScheduleStatus,
)
from ocpp16csms.messages import (
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
    StartTransactionRequest,
    StopTransactionRequest,
)
from ocpp16csms.profiles.smart_charging import (
    ChargingProfileError,
    InstalledChargingProfile,
    ScheduleDifference,
    compare_composite_schedules,
)
from ocpp16csms.stores import (
    IdTagRecord,
    StoreError,
)
from ocpp16csms.testing import ChargePointSimulator

pytestmark = pytest.mark.anyio

A = ChargingRateUnitType.A
W = ChargingRateUnitType.W
CP_MAX = ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE
TX_DEFAULT = ChargingProfilePurposeType.TX_DEFAULT_PROFILE
TX = ChargingProfilePurposeType.TX_PROFILE
ABSOLUTE = ChargingProfileKindType.ABSOLUTE
RELATIVE = ChargingProfileKindType.RELATIVE


def profile(
    profile_id: int,
    purpose: ChargingProfilePurposeType = TX_DEFAULT,
    stack_level: int = 0,
    periods: Sequence[tuple[int, float]] = ((0, 16.0),),
    *,
    kind: ChargingProfileKindType = RELATIVE,
    start_offset: int = 0,
    duration: int | None = None,
    transaction_id: int | None = None,
) -> ChargingProfile:
    """A profile in amperes; Absolute ones start ``start_offset`` seconds after T0."""
    return ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=stack_level,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        transaction_id=transaction_id,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=A,
            duration=duration,
            start_schedule=T0 + timedelta(seconds=start_offset) if kind is ABSOLUTE else None,
            charging_schedule_period=tuple(
                ChargingSchedulePeriod(start_period=s, limit=limit) for s, limit in periods
            ),
        ),
    )


def schedule(
    periods: Sequence[tuple[int, float]] | Sequence[tuple[int, float, int]],
    *,
    duration: int | None,
    start_offset: int | None = 0,
    unit: ChargingRateUnitType = A,
) -> ChargingSchedule:
    return ChargingSchedule(
        charging_rate_unit=unit,
        duration=duration,
        start_schedule=None if start_offset is None else T0 + timedelta(seconds=start_offset),
        charging_schedule_period=tuple(
            ChargingSchedulePeriod(
                start_period=p[0], limit=p[1], number_phases=p[2] if len(p) > 2 else None
            )
            for p in periods
        ),
    )


def central_system() -> CentralSystem:
    return make_central_system(id_tags=(IdTagRecord(id_tag="TAG"),))


async def stored(cs: CentralSystem, charge_point_id: str = "CP1") -> list[tuple[int, int]]:
    """(connector id, chargingProfileId) of every stored profile, in the store's order."""
    store = cs.stores.charging_profiles
    assert store is not None
    return [
        (i.connector_id, i.profile.charging_profile_id)
        for i in await store.installed(charge_point_id)
    ]


async def start_transaction(cp: ChargePointSimulator, connector_id: int, offset: int = 0) -> int:
    answer = await cp.call(
        StartTransactionRequest(
            connector_id=connector_id,
            id_tag="TAG",
            meter_start=0,
            timestamp=T0 + timedelta(seconds=offset),
        )
    )
    return answer.transaction_id


async def stop_transaction(cp: ChargePointSimulator, transaction_id: int) -> None:
    await cp.call(
        StopTransactionRequest(
            meter_stop=100, timestamp=T0 + timedelta(hours=1), transaction_id=transaction_id
        )
    )


# --- SetChargingProfile ---------------------------------------------------------------------


async def test_an_accepted_profile_is_sent_and_stored() -> None:
    cs = central_system()
    daily = profile(1, TX_DEFAULT, 2, kind=ABSOLUTE)
    async with connected(cs) as cp:
        answer = await cs.smart_charging.set_charging_profile("CP1", 0, daily)
    assert answer.status is ChargingProfileStatus.ACCEPTED
    assert cp.received_of(SetChargingProfileRequest) == [
        SetChargingProfileRequest(connector_id=0, cs_charging_profiles=daily)
    ]
    store = cs.stores.charging_profiles
    assert store is not None
    assert list(await store.installed("CP1")) == [
        InstalledChargingProfile(charge_point_id="CP1", connector_id=0, profile=daily)
    ]


async def test_the_same_id_replaces_on_another_connector() -> None:
    cs = central_system()
    async with connected(cs):
        await cs.smart_charging.set_charging_profile("CP1", 1, profile(1, TX_DEFAULT, 0))
        await cs.smart_charging.set_charging_profile("CP1", 2, profile(1, TX_DEFAULT, 3))
        await cs.smart_charging.set_charging_profile("CP1", 1, profile(2, TX_DEFAULT, 1))
    assert await stored(cs) == [(1, 2), (2, 1)]


async def test_the_same_connector_purpose_and_stack_level_replaces() -> None:
    cs = central_system()
    async with connected(cs):
        await cs.smart_charging.set_charging_profile("CP1", 1, profile(1, TX_DEFAULT, 0))
        await cs.smart_charging.set_charging_profile("CP1", 2, profile(2, TX_DEFAULT, 0))
        await cs.smart_charging.set_charging_profile(
            "CP1", 1, profile(3, TX_DEFAULT, 0, ((0, 6.0),))
        )
        await cs.smart_charging.set_charging_profile("CP1", 1, profile(4, TX_DEFAULT, 1))
    assert await stored(cs) == [(1, 3), (1, 4), (2, 2)]


@pytest.mark.parametrize(
    "status", [ChargingProfileStatus.REJECTED, ChargingProfileStatus.NOT_SUPPORTED]
)
async def test_a_refused_profile_is_not_stored(status: ChargingProfileStatus) -> None:
    cs = central_system()
    async with connected(cs) as cp:
        await cs.smart_charging.set_charging_profile("CP1", 1, profile(1, TX_DEFAULT, 0))
        cp.answer("SetChargingProfile", SetChargingProfileResponse(status=status))
        answer = await cs.smart_charging.set_charging_profile("CP1", 1, profile(2, TX_DEFAULT, 0))
        assert answer.status is status
        assert len(cp.received_of(SetChargingProfileRequest)) == 2
    assert await stored(cs) == [(1, 1)]


async def test_a_tx_profile_goes_to_the_running_transaction() -> None:
    cs = central_system()
    async with connected(cs) as cp:
        with pytest.raises(ChargingProfileError) as no_transaction:
            await cs.smart_charging.set_charging_profile("CP1", 1, profile(1, TX))
        transaction_id = await start_transaction(cp, 1)
        with pytest.raises(ChargingProfileError) as wrong_transaction:
            await cs.smart_charging.set_charging_profile(
                "CP1", 1, profile(1, TX, transaction_id=999)
            )
        with pytest.raises(ChargingProfileError) as other_connector:
            await cs.smart_charging.set_charging_profile("CP1", 2, profile(1, TX))
        assert cp.received_of(SetChargingProfileRequest) == []
        await cs.smart_charging.set_charging_profile(
            "CP1", 1, profile(1, TX, transaction_id=transaction_id)
        )
    assert no_transaction.value.rule == "tx_profile_transaction"
    assert wrong_transaction.value.rule == "tx_profile_transaction_id"
    assert other_connector.value.rule == "tx_profile_transaction"
    assert await stored(cs) == [(1, 1)]


async def test_limits_reported_by_get_configuration_are_enforced_before_sending() -> None:
    cs = central_system()
    async with connected(cs) as cp:
        cp.configuration.update(
            {
                "ChargingScheduleMaxPeriods": ("2", True),
                "MaxChargingProfilesInstalled": ("2", True),
                "NumberOfConnectors": ("2", True),
            }
        )
        three_periods = profile(1, periods=((0, 16.0), (60, 10.0), (120, 6.0)))
        # Nothing known yet: the charge point decides.
        await cs.smart_charging.set_charging_profile("CP1", 1, three_periods)
        await cs.smart_charging.clear_charging_profile("CP1")
        await cs.core.get_configuration("CP1")
        sent_before = len(cp.received)
        with pytest.raises(ChargingProfileError) as too_many_periods:
            await cs.smart_charging.set_charging_profile("CP1", 1, three_periods)
        await cs.smart_charging.set_charging_profile("CP1", 1, profile(1, TX_DEFAULT, 0))
        await cs.smart_charging.set_charging_profile("CP1", 2, profile(2, TX_DEFAULT, 0))
        sent_full = len(cp.received)
        with pytest.raises(ChargingProfileError) as full:
            await cs.smart_charging.set_charging_profile("CP1", 1, profile(3, TX_DEFAULT, 1))
        with pytest.raises(InvalidRequest, match="connector 3 does not exist"):
            await cs.smart_charging.set_charging_profile("CP1", 3, profile(3, TX_DEFAULT, 1))
        assert len(cp.received) == sent_full
        # What the new profile replaces leaves room for it, by id or by key.
        await cs.smart_charging.set_charging_profile("CP1", 1, profile(1, TX_DEFAULT, 5))
        await cs.smart_charging.set_charging_profile("CP1", 2, profile(4, TX_DEFAULT, 0))
    assert too_many_periods.value.rule == "max_periods"
    assert full.value.rule == "max_installed"
    assert sent_full == sent_before + 2
    assert await stored(cs) == [(1, 1), (2, 4)]


async def test_without_a_profile_store_nothing_is_sent() -> None:
    stores = attrs.evolve(memory_stores(), charging_profiles=None)
    cs = make_central_system(stores=stores)
    async with connected(cs) as cp:
        with pytest.raises(StoreError, match="charging_profiles"):
            await cs.smart_charging.set_charging_profile("CP1", 1, profile(1))
        with pytest.raises(StoreError, match="charging_profiles"):
            await cs.smart_charging.clear_charging_profile("CP1")
    assert cp.received == []


# --- ClearChargingProfile -------------------------------------------------------------------

INSTALLED = [
    (0, profile(1, CP_MAX, 0, kind=ABSOLUTE)),
    (0, profile(2, TX_DEFAULT, 1)),
    (1, profile(3, TX_DEFAULT, 1)),
    (1, profile(4, TX_DEFAULT, 2)),
    (2, profile(5, TX_DEFAULT, 2)),
]
ALL = {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("criteria", "cleared"),
    [
        ({}, ALL),
        ({"charging_profile_id": 4}, {4}),
        ({"charging_profile_id": 4, "connector_id": 2, "stack_level": 0}, {4}),
        ({"connector_id": 0}, {1, 2}),
        ({"purpose": TX_DEFAULT}, {2, 3, 4, 5}),
        ({"stack_level": 2}, {4, 5}),
        ({"connector_id": 1, "purpose": TX_DEFAULT}, {3, 4}),
        ({"connector_id": 1, "stack_level": 2}, {4}),
        ({"purpose": TX_DEFAULT, "stack_level": 1}, {2, 3}),
        ({"connector_id": 2, "purpose": TX_DEFAULT, "stack_level": 2}, {5}),
        ({"connector_id": 2, "purpose": CP_MAX}, set()),
    ],
    ids=repr,
)
async def test_clear_removes_what_the_charge_point_removes(
    criteria: dict[str, object], cleared: set[int]
) -> None:
    cs = central_system()
    async with connected(cs) as cp:
        for connector_id, p in INSTALLED:
            await cs.smart_charging.set_charging_profile("CP1", connector_id, p)
        answer = await cs.smart_charging.clear_charging_profile("CP1", **criteria)  # type: ignore[arg-type]
    assert answer.status is ClearChargingProfileStatus.ACCEPTED
    assert cp.received_of(ClearChargingProfileRequest) == [
        ClearChargingProfileRequest(
            id=criteria.get("charging_profile_id"),  # type: ignore[arg-type]
            connector_id=criteria.get("connector_id"),  # type: ignore[arg-type]
            charging_profile_purpose=criteria.get("purpose"),  # type: ignore[arg-type]
            stack_level=criteria.get("stack_level"),  # type: ignore[arg-type]
        )
    ]
    assert {profile_id for _, profile_id in await stored(cs)} == ALL - cleared


async def test_clear_answered_unknown_removes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    cs = central_system()
    async with connected(cs) as cp:
        for connector_id, p in INSTALLED:
            await cs.smart_charging.set_charging_profile("CP1", connector_id, p)
        cp.answer(
            "ClearChargingProfile",
            ClearChargingProfileResponse(status=ClearChargingProfileStatus.UNKNOWN),
        )
        for criteria in ({}, {"charging_profile_id": 3}, {"connector_id": 1}):
            answer = await cs.smart_charging.clear_charging_profile("CP1", **criteria)  # type: ignore[arg-type]
            assert answer.status is ClearChargingProfileStatus.UNKNOWN
    assert {profile_id for _, profile_id in await stored(cs)} == ALL
    assert caplog.text.count("the store holds matching profiles") == 3


# --- StopTransaction drops the TxProfiles of its transaction --------------------------------


async def test_stop_transaction_drops_the_tx_profiles_of_that_transaction() -> None:
    cs = central_system()
    async with connected(cs) as cp:
        first = await start_transaction(cp, 1)
        second = await start_transaction(cp, 2)
        await cs.smart_charging.set_charging_profile(
            "CP1", 1, profile(1, TX, 0, transaction_id=first)
        )
        await cs.smart_charging.set_charging_profile("CP1", 1, profile(2, TX, 1))
        await cs.smart_charging.set_charging_profile("CP1", 1, profile(3, TX_DEFAULT, 0))
        await cs.smart_charging.set_charging_profile(
            "CP1", 2, profile(4, TX, 0, transaction_id=second)
        )
        await cs.smart_charging.set_charging_profile("CP1", 2, profile(5, TX, 1))
        await stop_transaction(cp, first)
        assert await stored(cs) == [(1, 3), (2, 4), (2, 5)]
        await stop_transaction(cp, first)  # a retry drops nothing more
        assert await stored(cs) == [(1, 3), (2, 4), (2, 5)]
        await stop_transaction(cp, second)
    assert await stored(cs) == [(1, 3)]


async def test_a_late_stop_keeps_the_tx_profiles_of_the_transaction_running_now() -> None:
    cs = central_system()
    store = cs.stores.charging_profiles
    assert store is not None
    async with connected(cs) as cp:
        # The charge point was offline: it stopped `old` and started `new` on connector 1,
        # and the StopTransaction of `old` arrives after the StartTransaction of `new`.
        old = await start_transaction(cp, 1, offset=-3600)
        await store.install(
            InstalledChargingProfile(
                charge_point_id="CP1", connector_id=1, profile=profile(1, TX, 0, transaction_id=old)
            )
        )
        new = await start_transaction(cp, 1)
        # Both are active in the store now; the later one is the one running.
        await cs.smart_charging.set_charging_profile("CP1", 1, profile(2, TX, 1))
        await cs.smart_charging.set_charging_profile(
            "CP1", 1, profile(3, TX, 2, transaction_id=new)
        )
        await stop_transaction(cp, old)
        assert await stored(cs) == [(1, 2), (1, 3)]
        await stop_transaction(cp, new)
    assert await stored(cs) == []


# --- composite schedules --------------------------------------------------------------------


async def test_get_composite_schedule_asks_the_charge_point() -> None:
    cs = central_system()
    reported = GetCompositeScheduleResponse(
        status=GetCompositeScheduleStatus.ACCEPTED,
        connector_id=1,
        schedule_start=T0,
        charging_schedule=schedule([(0, 10.0), (600, 32.0)], duration=3600, start_offset=None),
    )
    async with connected(cs) as cp:
        cp.answer("GetCompositeSchedule", reported)
        answer = await cs.smart_charging.get_composite_schedule("CP1", 1, 3600, A)
        with pytest.raises(InvalidRequest, match="duration"):
            await cs.smart_charging.get_composite_schedule("CP1", 1, 0)
    assert answer == reported
    assert cp.received_of(GetCompositeScheduleRequest) == [
        GetCompositeScheduleRequest(connector_id=1, duration=3600, charging_rate_unit=A)
    ]


async def install_scenario(cs: CentralSystem, cp: ChargePointSimulator) -> None:
    """The profiles of the hand-worked example (times from T0, the clock's now):

    - ChargePointMaxProfile: 40 A, 20 A from 1800 s;
    - TxDefaultProfile on connector 0, started an hour before T0: 32 A, 16 A from 3600 s;
    - TxProfile for the transaction started on connector 1 ten minutes before T0: 10 A for
      1200 s, so until 600 s.
    """
    cp.configuration["NumberOfConnectors"] = ("2", True)
    await cs.core.get_configuration("CP1")
    transaction_id = await start_transaction(cp, 1, offset=-600)
    await cs.smart_charging.set_charging_profile(
        "CP1", 0, profile(1, CP_MAX, 0, ((0, 40.0), (1800, 20.0)), kind=ABSOLUTE)
    )
    await cs.smart_charging.set_charging_profile(
        "CP1",
        0,
        profile(2, TX_DEFAULT, 0, ((0, 32.0), (7200, 16.0)), kind=ABSOLUTE, start_offset=-3600),
    )
    await cs.smart_charging.set_charging_profile(
        "CP1", 1, profile(3, TX, 0, ((0, 10.0),), duration=1200, transaction_id=transaction_id)
    )


async def test_expected_composite_schedule_is_computed_from_the_store() -> None:
    cs = central_system()
    async with connected(cs) as cp:
        await install_scenario(cs, cp)
        sent = len(cp.received)
        connector_1 = await cs.smart_charging.expected_composite_schedule("CP1", 1, 7200)
        # Connector 0: connector 1 (10, 32 from 600, 16 from 3600) plus the idle connector 2
        # (32, 16 from 3600) gives 42, 64, 32; capped at 40, then 20 from 1800.
        total = await cs.smart_charging.expected_composite_schedule("CP1", 0, 7200)
        in_watts = await cs.smart_charging.expected_composite_schedule("CP1", 1, 1200, W)
        clock = cs.clock
        assert isinstance(clock, FakeClock)
        clock.advance(600)
        later = await cs.smart_charging.expected_composite_schedule("CP1", 1, 7200)
        explicit = await cs.smart_charging.expected_composite_schedule("CP1", 1, 7200, start=T0)
        assert len(cp.received) == sent
    assert connector_1 == schedule(
        [(0, 10.0), (600, 32.0), (1800, 20.0), (3600, 16.0)], duration=7200
    )
    assert total == schedule([(0, 40.0), (1800, 20.0)], duration=7200)
    # 230 V x 3 phases: 10 A is 6900 W, 32 A is 22080 W.
    assert in_watts == schedule([(0, 6900.0), (600, 22080.0)], duration=1200, unit=W)
    assert later == schedule(
        [(0, 32.0), (1200, 20.0), (3000, 16.0)], duration=7200, start_offset=600
    )
    assert explicit == connector_1


async def test_the_expected_schedule_follows_the_stop_of_the_transaction() -> None:
    cs = central_system()
    async with connected(cs) as cp:
        await install_scenario(cs, cp)
        (running,) = await cs.stores.transactions.active(charge_point_id="CP1")
        await stop_transaction(cp, running.transaction_id)
        idle = await cs.smart_charging.expected_composite_schedule("CP1", 1, 7200)
    assert idle == schedule([(0, 32.0), (1800, 20.0), (3600, 16.0)], duration=7200)


async def test_a_matching_report_compares_equal_end_to_end() -> None:
    cs = central_system()
    async with connected(cs) as cp:
        await install_scenario(cs, cp)
        expected = await cs.smart_charging.expected_composite_schedule("CP1", 1, 7200)
        assert expected is not None
        cp.answer(
            "GetCompositeSchedule",
            GetCompositeScheduleResponse(
                status=GetCompositeScheduleStatus.ACCEPTED,
                connector_id=1,
                schedule_start=T0,
                charging_schedule=attrs.evolve(expected, start_schedule=None),
            ),
        )
        reported = await cs.smart_charging.get_composite_schedule("CP1", 1, 7200)
    assert compare_composite_schedules(expected, reported) == []
    other = attrs.evolve(reported, schedule_start=T0 + timedelta(seconds=1))
    assert compare_composite_schedules(expected, other) != []


# --- comparing schedules (pure) -------------------------------------------------------------

EXPECTED = schedule([(0, 10.0), (600, 32.0), (1800, 20.0)], duration=3600)


def test_equal_schedules_have_no_differences() -> None:
    assert compare_composite_schedules(EXPECTED, EXPECTED) == []
    assert compare_composite_schedules(None, None) == []
    # Splitting a period in two changes nothing.
    split = schedule([(0, 10.0), (300, 10.0), (600, 32.0), (1800, 20.0)], duration=3600)
    assert compare_composite_schedules(EXPECTED, split) == []


def test_adjacent_intervals_with_the_same_pair_are_merged() -> None:
    split = schedule([(0, 10.0), (300, 10.0), (600, 32.0)], duration=1200)
    reported = schedule([(0, 12.0), (450, 12.0), (600, 32.0)], duration=1200)
    assert compare_composite_schedules(split, reported) == [
        ScheduleDifference(start=0, end=600, expected=10.0, reported=12.0)
    ]


def test_the_differing_intervals_are_listed() -> None:
    reported = schedule([(0, 10.0), (600, 30.0), (1800, 20.0), (2400, 25.0)], duration=3000)
    assert compare_composite_schedules(EXPECTED, reported) == [
        ScheduleDifference(start=600, end=1800, expected=32.0, reported=30.0),
        ScheduleDifference(start=2400, end=3000, expected=20.0, reported=25.0),
        ScheduleDifference(start=3000, end=3600, expected=20.0, reported=None),
    ]


def test_starts_are_aligned_in_time() -> None:
    response = GetCompositeScheduleResponse(
        status=GetCompositeScheduleStatus.ACCEPTED,
        connector_id=1,
        schedule_start=T0 + timedelta(seconds=60),
        charging_schedule=schedule(
            [(0, 10.0), (540, 32.0), (1740, 20.0)], duration=3540, start_offset=None
        ),
    )
    assert compare_composite_schedules(EXPECTED, response) == [
        ScheduleDifference(start=0, end=60, expected=10.0, reported=None)
    ]
    # Offsets count from `start` when given.
    assert compare_composite_schedules(EXPECTED, response, start=T0 - timedelta(seconds=100)) == [
        ScheduleDifference(start=100, end=160, expected=10.0, reported=None)
    ]


def test_a_rejected_answer_or_no_expectation_differs_everywhere() -> None:
    rejected = GetCompositeScheduleResponse(status=GetCompositeScheduleStatus.REJECTED)
    assert compare_composite_schedules(EXPECTED, rejected) == [
        ScheduleDifference(start=0, end=600, expected=10.0, reported=None),
        ScheduleDifference(start=600, end=1800, expected=32.0, reported=None),
        ScheduleDifference(start=1800, end=3600, expected=20.0, reported=None),
    ]
    endless = schedule([(0, 16.0)], duration=None)
    assert compare_composite_schedules(None, endless) == [
        ScheduleDifference(start=0, end=math.inf, expected=None, reported=16.0)
    ]


def test_units_are_converted_before_comparing() -> None:
    # At 230 V (errata 3.69): 10 A is 6900 W on 3 phases (the default), 32 A is 7360 W on one.
    in_watts = schedule([(0, 6900.0), (600, 7360.0, 1), (1800, 13000.0, 3)], duration=3600, unit=W)
    assert compare_composite_schedules(EXPECTED, in_watts) == [
        ScheduleDifference(start=1800, end=3600, expected=20.0, reported=13000.0 / 690)
    ]
    assert (
        compare_composite_schedules(
            schedule([(0, 6900.0)], duration=600, unit=W), schedule([(0, 10.0)], duration=600)
        )
        == []
    )


def test_tolerance() -> None:
    close = schedule([(0, 10.1), (600, 31.9), (1800, 20.0)], duration=3600)
    assert compare_composite_schedules(EXPECTED, close, tolerance=0.1) == []
    assert compare_composite_schedules(EXPECTED, close) == [
        ScheduleDifference(start=0, end=600, expected=10.0, reported=10.1),
        ScheduleDifference(start=600, end=1800, expected=32.0, reported=31.9),
    ]
