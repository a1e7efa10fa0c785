"""Checks on a charging profile before it is sent (§3.13, §5.11, §5.16, §7.8, §7.13, §9.4).

One test per rule: each builds a profile that breaks exactly that rule, and the matching
accepted case sits next to it where there is a boundary.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from _smart_charging_helpers import (
    ABSOLUTE,
    CP_MAX,
    DAILY,
    RECURRING,
    RELATIVE,
    T0,
    TX,
    TX_DEFAULT,
    A,
    W,
    profile,
)
from ocpp16csms.datatypes import ChargingProfile
from ocpp16csms.errors import InvalidRequest
from ocpp16csms.profiles.smart_charging import (
    ChargePointLimits,
    ChargingProfileError,
    validate_charging_profile,
    validate_remote_start_profile,
)

GOOD_TX_DEFAULT = profile(TX_DEFAULT, [(0, 32), (3600, 16, 1)])
GOOD_TX = profile(TX, [(0, 16)], kind=RELATIVE)
GOOD_CP_MAX = profile(CP_MAX, [(0, 63)])


def rule_of(p: ChargingProfile, **kw: Any) -> str:
    with pytest.raises(ChargingProfileError) as caught:
        validate_charging_profile(p, **kw)
    assert caught.value.rule in str(caught.value)
    return caught.value.rule


def test_valid_profiles_pass() -> None:
    validate_charging_profile(GOOD_TX_DEFAULT, connector_id=0)
    validate_charging_profile(GOOD_TX_DEFAULT, connector_id=2)
    validate_charging_profile(GOOD_CP_MAX, connector_id=0)
    validate_charging_profile(GOOD_TX, connector_id=1)
    validate_charging_profile(GOOD_TX, connector_id=1, active_transaction_ids={1: 7})
    recurring = profile(TX_DEFAULT, [(0, 6)], kind=RECURRING, recurrency_kind=DAILY)
    validate_charging_profile(recurring, connector_id=0)
    validate_remote_start_profile(GOOD_TX)


def test_error_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match=r"^\[charge_point_max_connector\] "):
        validate_charging_profile(GOOD_CP_MAX, connector_id=1)


def test_connector_id_is_not_negative() -> None:
    assert rule_of(GOOD_TX_DEFAULT, connector_id=-1) == "connector_id"


def test_charge_point_max_only_on_connector_zero() -> None:
    assert rule_of(GOOD_CP_MAX, connector_id=1) == "charge_point_max_connector"


def test_charge_point_max_is_never_relative() -> None:
    relative = profile(CP_MAX, [(0, 63)], kind=RELATIVE)
    assert rule_of(relative, connector_id=0) == "charge_point_max_kind"


def test_tx_profile_only_on_a_connector() -> None:
    assert rule_of(GOOD_TX, connector_id=0) == "tx_profile_connector"


def test_tx_profile_needs_a_running_transaction_when_transactions_are_known() -> None:
    assert rule_of(GOOD_TX, connector_id=1, active_transaction_ids={2: 7}) == (
        "tx_profile_transaction"
    )
    # Unknown transactions: nothing to check against.
    validate_charging_profile(GOOD_TX, connector_id=1)


def test_tx_profile_transaction_id_matches_the_running_one() -> None:
    named = attrs.evolve(GOOD_TX, transaction_id=8)
    assert rule_of(named, connector_id=1, active_transaction_ids={1: 7}) == (
        "tx_profile_transaction_id"
    )
    validate_charging_profile(named, connector_id=1, active_transaction_ids={1: 8})


def test_transaction_id_only_on_a_tx_profile() -> None:
    named = attrs.evolve(GOOD_TX_DEFAULT, transaction_id=7)
    assert rule_of(named, connector_id=1) == "transaction_id_purpose"


@pytest.mark.parametrize("kind", [ABSOLUTE, RECURRING])
def test_absolute_and_recurring_need_start_schedule(kind: Any) -> None:
    recurrency = DAILY if kind is RECURRING else None
    p = profile(TX_DEFAULT, [(0, 6)], kind=kind, recurrency_kind=recurrency, start_schedule=None)
    assert rule_of(p, connector_id=1) == "start_schedule"


def test_recurrency_kind_exactly_for_recurring() -> None:
    missing = profile(TX_DEFAULT, [(0, 6)], kind=RECURRING, recurrency_kind=None)
    assert rule_of(missing, connector_id=1) == "recurrency_kind"
    stray = profile(TX_DEFAULT, [(0, 6)], kind=ABSOLUTE, recurrency_kind=DAILY)
    assert rule_of(stray, connector_id=1) == "recurrency_kind"


def test_first_start_period_is_zero() -> None:
    p = profile(TX_DEFAULT, [(60, 6)])
    assert rule_of(p, connector_id=1) == "first_start_period"


@pytest.mark.parametrize("second", [0, 3599])
def test_start_periods_strictly_increase(second: int) -> None:
    p = profile(TX_DEFAULT, [(0, 6), (3600, 8), (second if second else 3600, 10)])
    assert rule_of(p, connector_id=1) == "start_period_order"


def test_limits_are_not_negative() -> None:
    assert rule_of(profile(TX_DEFAULT, [(0, 6), (60, -0.1)]), connector_id=1) == "limit"
    validate_charging_profile(profile(TX_DEFAULT, [(0, 0)]), connector_id=1)


@pytest.mark.parametrize("phases", [0, 4])
def test_number_phases_one_to_three(phases: int) -> None:
    p = profile(TX_DEFAULT, [(0, 6, phases)])
    assert rule_of(p, connector_id=1) == "number_phases"


def test_min_charging_rate_is_not_negative() -> None:
    schedule = attrs.evolve(GOOD_TX_DEFAULT.charging_schedule, min_charging_rate=-1.0)
    p = attrs.evolve(GOOD_TX_DEFAULT, charging_schedule=schedule)
    assert rule_of(p, connector_id=1) == "min_charging_rate"


def test_duration_is_positive() -> None:
    p = profile(TX_DEFAULT, [(0, 6)], duration=0)
    assert rule_of(p, connector_id=1) == "duration"


@pytest.mark.parametrize("valid_to_offset", [0, -60])
def test_valid_from_before_valid_to(valid_to_offset: int) -> None:
    p = profile(
        TX_DEFAULT,
        [(0, 6)],
        valid_from=T0,
        valid_to=T0 + timedelta(seconds=valid_to_offset),
    )
    assert rule_of(p, connector_id=1) == "valid_period"


def test_stack_level_within_the_charge_point_maximum() -> None:
    p = attrs.evolve(GOOD_TX_DEFAULT, stack_level=4)
    assert rule_of(p, connector_id=1, limits=ChargePointLimits(max_stack_level=3)) == (
        "max_stack_level"
    )
    validate_charging_profile(p, connector_id=1, limits=ChargePointLimits(max_stack_level=4))


def test_periods_within_the_charge_point_maximum() -> None:
    assert rule_of(GOOD_TX_DEFAULT, connector_id=1, limits=ChargePointLimits(max_periods=1)) == (
        "max_periods"
    )
    validate_charging_profile(
        GOOD_TX_DEFAULT, connector_id=1, limits=ChargePointLimits(max_periods=2)
    )


def test_installed_profiles_within_the_charge_point_maximum() -> None:
    full = ChargePointLimits(max_installed=4, installed_count=4)
    assert rule_of(GOOD_TX_DEFAULT, connector_id=1, limits=full) == "max_installed"
    room = ChargePointLimits(max_installed=4, installed_count=3)
    validate_charging_profile(GOOD_TX_DEFAULT, connector_id=1, limits=room)
    # Without a count there is nothing to compare.
    validate_charging_profile(
        GOOD_TX_DEFAULT, connector_id=1, limits=ChargePointLimits(max_installed=0)
    )


def test_unit_among_the_charge_point_units() -> None:
    watts = profile(TX_DEFAULT, [(0, 11000)], unit=W)
    only_current = ChargePointLimits(allowed_units={A})
    assert rule_of(watts, connector_id=1, limits=only_current) == "allowed_units"
    validate_charging_profile(GOOD_TX_DEFAULT, connector_id=1, limits=only_current)


def test_remote_start_profile_is_a_tx_profile() -> None:
    with pytest.raises(ChargingProfileError) as caught:
        validate_remote_start_profile(GOOD_TX_DEFAULT)
    assert caught.value.rule == "remote_start_purpose"


def test_remote_start_profile_has_no_transaction_id() -> None:
    with pytest.raises(ChargingProfileError) as caught:
        validate_remote_start_profile(attrs.evolve(GOOD_TX, transaction_id=7))
    assert caught.value.rule == "remote_start_transaction_id"


def test_remote_start_profile_also_meets_the_schedule_rules() -> None:
    with pytest.raises(ChargingProfileError) as caught:
        validate_remote_start_profile(profile(TX, [(60, 6)], kind=RELATIVE))
    assert caught.value.rule == "first_start_period"
    with pytest.raises(ChargingProfileError) as caught:
        validate_remote_start_profile(GOOD_TX, limits=ChargePointLimits(allowed_units={W}))
    assert caught.value.rule == "allowed_units"


# --- ChargePointLimits.from_configuration ---------------------------------------------------


def test_limits_from_reported_configuration() -> None:
    limits = ChargePointLimits.from_configuration(
        {
            "ChargeProfileMaxStackLevel": "8",
            "ChargingScheduleMaxPeriods": "24",
            "MaxChargingProfilesInstalled": "10",
            "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
            "HeartbeatInterval": "300",
        },
        installed_count=3,
    )
    assert limits == ChargePointLimits(
        max_stack_level=8,
        max_periods=24,
        max_installed=10,
        installed_count=3,
        allowed_units=frozenset({A, W}),
    )


@pytest.mark.parametrize(
    ("reported", "units"),
    [
        ("Current", {A}),
        ("Power", {W}),
        (" power , CURRENT ", {A, W}),
        ("Current,Frequency", {A}),
        ("", None),
        ("Frequency", None),
    ],
)
def test_allowed_units_are_read_leniently(reported: str, units: set[Any] | None) -> None:
    limits = ChargePointLimits.from_configuration(
        {"chargingscheduleallowedchargingrateunit": reported}
    )
    assert limits.allowed_units == (None if units is None else frozenset(units))


def test_missing_or_unreadable_values_are_unknown() -> None:
    limits = ChargePointLimits.from_configuration({"ChargeProfileMaxStackLevel": "eight"})
    assert limits == ChargePointLimits()
