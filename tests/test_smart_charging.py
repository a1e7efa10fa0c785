"""Composite schedules (§3.13, §5.7): scenarios with their expected periods worked out by hand.

``shape`` gives (start_schedule - T0 in s, duration, [(start_period, limit), ...]). T0 is
Monday 2024-01-01 00:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from _smart_charging_helpers import (
    ABSOLUTE,
    CP_MAX,
    DAILY,
    DAY,
    HOUR,
    RECURRING,
    RELATIVE,
    T0,
    TX,
    TX_DEFAULT,
    WEEKLY,
    A,
    W,
    at,
    on,
    profile,
    shape,
)
from ocpp16csms.converter import make_converter
from ocpp16csms.messages import (
    ChargingProfile,
    ChargingSchedule,
    GetCompositeScheduleStatus,
)
from ocpp16csms.profiles.smart_charging import (
    CompositeOptions,
    InstalledProfile,
    TransactionInfo,
    compare_composite_schedules,
    composite_schedule,
)
from ocpp16csms.profiles.smart_charging.composite import composite_schedule_response
from ocpp16csms.validation import validator_for


def composite(
    installed: list[InstalledProfile],
    *,
    connector_id: int = 1,
    start: datetime = T0,
    duration: int = 2 * HOUR,
    **kw: object,
) -> tuple[int, int, list[tuple[int, float]]] | None:
    result = composite_schedule(
        installed, connector_id=connector_id, start=start, duration=duration, **kw
    )
    return shape(result)


# --- kinds and time framing -----------------------------------------------------------------


def test_absolute_profile_is_cut_to_the_window() -> None:
    # Started an hour before the window: its 7200 s and 10800 s periods land at 1 h and 2 h.
    p = profile(TX_DEFAULT, [(0, 32), (7200, 16), (10800, 10)], start_schedule=at(-HOUR))
    assert composite(on(1, p), duration=4 * HOUR) == (0, 14400, [(0, 32), (3600, 16), (7200, 10)])


def test_a_leading_gap_moves_start_schedule() -> None:
    p = profile(TX_DEFAULT, [(0, 20)], start_schedule=at(1800))
    assert composite(on(1, p)) == (1800, 5400, [(0, 20)])


def test_a_trailing_gap_shortens_the_duration() -> None:
    p = profile(TX_DEFAULT, [(0, 20), (1800, 10)], duration=3600)
    assert composite(on(1, p)) == (0, 3600, [(0, 20), (1800, 10)])


def test_an_interior_gap_ends_the_schedule_unless_a_gap_limit_fills_it() -> None:
    first = profile(TX_DEFAULT, [(0, 20)], duration=HOUR, stack_level=1)
    later = profile(TX_DEFAULT, [(0, 10)], start_schedule=at(2 * HOUR))
    installed = on(1, first, later)
    assert composite(installed, duration=4 * HOUR) == (0, 3600, [(0, 20)])
    filled = CompositeOptions(gap_limit={A: 32})
    assert composite(installed, duration=4 * HOUR, options=filled) == (
        0,
        14400,
        [(0, 20), (3600, 32), (7200, 10)],
    )


def test_no_profile_gives_none_or_the_gap_limit() -> None:
    assert composite([], duration=600) is None
    assert composite([], duration=600, options=CompositeOptions(gap_limit={A: 32})) == (
        0,
        600,
        [(0, 32)],
    )
    # 22080 W over 230 V and the default 3 phases is 32 A.
    watts = CompositeOptions(gap_limit={W: 22080})
    assert composite([], duration=600, charging_rate_unit=A, options=watts) == (0, 600, [(0, 32)])


def test_a_profile_entirely_outside_the_window_gives_none() -> None:
    p = profile(TX_DEFAULT, [(0, 20)], duration=HOUR, start_schedule=at(-2 * HOUR))
    assert composite(on(1, p)) is None


def test_relative_profile_counts_from_the_transaction_start() -> None:
    p = profile(TX_DEFAULT, [(0, 10), (3600, 20)], kind=RELATIVE)
    running = {1: TransactionInfo(transaction_id=5, start=at(-1800))}
    assert composite(on(1, p), transactions=running) == (0, 7200, [(0, 10), (1800, 20)])


def test_relative_profile_without_a_transaction_counts_from_the_window_start() -> None:
    p = profile(TX_DEFAULT, [(0, 10), (3600, 20)], kind=RELATIVE)
    assert composite(on(1, p)) == (0, 7200, [(0, 10), (3600, 20)])


def test_absolute_profile_without_start_schedule_is_relative_to_the_transaction() -> None:
    p = profile(TX_DEFAULT, [(0, 10), (3600, 20)], kind=ABSOLUTE, start_schedule=None)
    running = {1: TransactionInfo(transaction_id=5, start=at(-1800))}
    assert composite(on(1, p), transactions=running) == (0, 7200, [(0, 10), (1800, 20)])


def test_valid_from_and_valid_to_bound_a_profile() -> None:
    base = profile(TX_DEFAULT, [(0, 32)])
    window = profile(TX_DEFAULT, [(0, 8)], stack_level=1, valid_from=at(HOUR), valid_to=at(90 * 60))
    assert composite(on(1, base, window)) == (0, 7200, [(0, 32), (3600, 8), (5400, 32)])


def test_recurring_daily_repeats_every_24_hours_from_start_schedule() -> None:
    # 08:00-20:00 at 6 A, 20:00-08:00 at 32 A, first occurrence ten days ago.
    p = profile(
        TX_DEFAULT,
        [(0, 6), (12 * HOUR, 32)],
        kind=RECURRING,
        recurrency_kind=DAILY,
        start_schedule=at(-10 * DAY + 8 * HOUR),
    )
    assert composite(on(1, p), duration=2 * DAY) == (
        0,
        172800,
        [(0, 32), (28800, 6), (72000, 32), (115200, 6), (158400, 32)],
    )


def test_spec_example_daily_profile_in_watts_and_in_amperes() -> None:
    # §3.13.7: 11 kW, but 6 kW between 08:00 and 20:00, 3 phases, every day.
    p = profile(
        TX_DEFAULT,
        [(0, 11000, 3), (28800, 6000, 3), (72000, 11000, 3)],
        kind=RECURRING,
        recurrency_kind=DAILY,
        unit=W,
        duration=DAY,
        start_schedule=datetime(2013, 1, 1, tzinfo=UTC),
    )
    assert composite(on(1, p), duration=2 * DAY) == (
        0,
        172800,
        [(0, 11000), (28800, 6000), (72000, 11000), (115200, 6000), (158400, 11000)],
    )
    # 11000 / 690 = 15.94.. and 6000 / 690 = 8.69..: rounded down.
    assert composite(on(1, p), duration=DAY, charging_rate_unit=A) == (
        0,
        86400,
        [(0, 15.9), (28800, 8.6), (72000, 15.9)],
    )


def test_recurring_before_its_first_occurrence() -> None:
    p = profile(
        TX_DEFAULT,
        [(0, 6), (12 * HOUR, 32)],
        kind=RECURRING,
        recurrency_kind=DAILY,
        start_schedule=at(8 * HOUR),
    )
    assert composite(on(1, p), duration=DAY) == (28800, 57600, [(0, 6), (43200, 32)])
    earlier = CompositeOptions(recurring_before_start_schedule=True)
    assert composite(on(1, p), duration=DAY, options=earlier) == (
        0,
        86400,
        [(0, 32), (28800, 6), (72000, 32)],
    )


def test_recurring_weekly_with_a_short_duration_falls_back_to_the_lower_stack() -> None:
    # Mondays and Tuesdays at 10 A (T0 is a Monday), 32 A from the base profile otherwise.
    weekly = profile(
        TX_DEFAULT,
        [(0, 10)],
        kind=RECURRING,
        recurrency_kind=WEEKLY,
        duration=2 * DAY,
        stack_level=1,
    )
    base = profile(TX_DEFAULT, [(0, 32)], start_schedule=at(-DAY))
    assert composite(on(1, weekly, base), start=at(DAY), duration=10 * DAY) == (
        86400,
        864000,
        [(0, 10), (86400, 32), (518400, 10), (691200, 32)],
    )


def test_recurrence_cuts_what_lies_beyond_its_period() -> None:
    # Errata 3.44: a period starting after 24 h is never executed by a Daily profile, and a
    # 30 h duration is cut at the next occurrence.
    never = profile(TX_DEFAULT, [(0, 20), (90000, 10)], kind=RECURRING, recurrency_kind=DAILY)
    assert composite(on(1, never), duration=2 * DAY) == (0, 172800, [(0, 20)])
    long = profile(
        TX_DEFAULT,
        [(0, 20), (23 * HOUR, 10)],
        kind=RECURRING,
        recurrency_kind=DAILY,
        duration=30 * HOUR,
        stack_level=1,
    )
    base = profile(TX_DEFAULT, [(0, 32)])
    assert composite(on(1, long, base), duration=2 * DAY) == (
        0,
        172800,
        [(0, 20), (82800, 10), (86400, 20), (169200, 10)],
    )


# --- stacking -------------------------------------------------------------------------------


def test_the_highest_stack_level_prevails_and_the_lower_takes_over_when_it_ends() -> None:
    base = profile(TX_DEFAULT, [(0, 32)], stack_level=0)
    middle = profile(
        TX_DEFAULT, [(0, 16)], stack_level=2, start_schedule=at(HOUR), duration=2 * HOUR
    )
    top = profile(
        TX_DEFAULT, [(0, 8)], stack_level=1, valid_from=at(4 * HOUR), valid_to=at(5 * HOUR)
    )
    assert composite(on(1, base, middle, top), duration=6 * HOUR) == (
        0,
        21600,
        [(0, 32), (3600, 16), (10800, 32), (14400, 8), (18000, 32)],
    )


def test_equal_stack_levels_give_the_lower_limit_whatever_the_order() -> None:
    a = profile(TX_DEFAULT, [(0, 20)], stack_level=1, profile_id=1)
    b = profile(TX_DEFAULT, [(0, 16)], stack_level=1, profile_id=2)
    assert composite(on(1, a, b)) == composite(on(1, b, a)) == (0, 7200, [(0, 16)])


# --- purposes -------------------------------------------------------------------------------


def test_tx_profile_overrules_tx_default_while_it_is_in_force() -> None:
    default = profile(TX_DEFAULT, [(0, 32)])
    tx = profile(TX, [(0, 10)], duration=HOUR, stack_level=0)
    installed = on(0, default) + on(1, tx)
    running = {1: TransactionInfo(transaction_id=7, start=at(-60))}
    assert composite(installed, transactions=running) == (0, 7200, [(0, 10), (3600, 32)])


def test_tx_profile_needs_a_running_transaction() -> None:
    installed = on(0, profile(TX_DEFAULT, [(0, 32)])) + on(1, profile(TX, [(0, 10)]))
    assert composite(installed) == (0, 7200, [(0, 32)])


@pytest.mark.parametrize(
    ("profile_tx", "running_tx", "expected"),
    [
        (7, 7, 10),  # names the running transaction
        (8, 7, 32),  # names another one: not for this transaction
        (None, 7, 10),  # names none: whatever runs on the connector
        (8, None, 10),  # the running id is not known yet: cannot contradict
    ],
)
def test_tx_profile_transaction_id_must_match_the_running_one(
    profile_tx: int | None, running_tx: int | None, expected: float
) -> None:
    installed = on(0, profile(TX_DEFAULT, [(0, 32)])) + on(
        1, profile(TX, [(0, 10)], transaction_id=profile_tx)
    )
    running = {1: TransactionInfo(transaction_id=running_tx, start=T0)}
    assert composite(installed, transactions=running) == (0, 7200, [(0, expected)])


def test_tx_default_does_not_fill_tx_profile_gaps_when_told_not_to() -> None:
    installed = on(0, profile(TX_DEFAULT, [(0, 32)])) + on(1, profile(TX, [(0, 10)], duration=HOUR))
    running = {1: TransactionInfo(transaction_id=7, start=T0)}
    strict = CompositeOptions(tx_default_fills_tx_profile_gaps=False)
    assert composite(installed, transactions=running, options=strict) == (0, 3600, [(0, 10)])


def test_a_connector_tx_default_replaces_connector_zeros_at_its_stack_level() -> None:
    # Same stack level: the connector's own 20 A replaces connector 0's 10 A, although higher.
    station = profile(TX_DEFAULT, [(0, 10)], stack_level=0, profile_id=1)
    station_peak = profile(
        TX_DEFAULT, [(0, 6)], stack_level=2, start_schedule=at(HOUR), duration=HOUR, profile_id=2
    )
    own = profile(TX_DEFAULT, [(0, 20)], stack_level=0, profile_id=3)
    installed = on(0, station, station_peak) + on(1, own)
    assert composite(installed, duration=3 * HOUR) == (0, 10800, [(0, 20), (3600, 6), (7200, 20)])
    # Connector 2 has none of its own: connector 0's apply.
    assert composite(installed, connector_id=2, duration=3 * HOUR) == (
        0,
        10800,
        [(0, 10), (3600, 6), (7200, 10)],
    )
    replace_all = CompositeOptions(connector_tx_default_replaces_all=True)
    assert composite(installed, duration=3 * HOUR, options=replace_all) == (0, 10800, [(0, 20)])


def test_tx_default_without_a_transaction_is_optional() -> None:
    installed = on(1, profile(TX_DEFAULT, [(0, 32)]))
    only_in_transaction = CompositeOptions(tx_profiles_without_transaction=False)
    assert composite(installed) == (0, 7200, [(0, 32)])
    assert composite(installed, options=only_in_transaction) is None
    capped = installed + on(0, profile(CP_MAX, [(0, 40)]))
    assert composite(capped, options=only_in_transaction) == (0, 7200, [(0, 40)])


def test_charge_point_max_caps_instant_by_instant() -> None:
    cap = profile(CP_MAX, [(0, 40, 3), (3600, 12, 1)])
    default = profile(TX_DEFAULT, [(0, 16, 3)])
    result = composite_schedule(
        on(0, cap) + on(1, default), connector_id=1, start=T0, duration=2 * HOUR
    )
    assert result is not None
    # Each period keeps the number of phases of the limit that won.
    assert [
        (p.start_period, p.limit, p.number_phases) for p in result.charging_schedule_period
    ] == [
        (0, 16, 3),
        (3600, 12, 1),
    ]


def periods(schedule: ChargingSchedule | None) -> list[tuple[int, float, int | None]]:
    assert schedule is not None
    return [(p.start_period, p.limit, p.number_phases) for p in schedule.charging_schedule_period]


@pytest.mark.parametrize(
    ("cap", "default"),
    [
        # The defect: 16 A/3 phases asked in A, but 7,360 W/1 phase (32 A) asked in W.
        (profile(CP_MAX, [(0, 16, 3)]), profile(TX_DEFAULT, [(0, 32, 1)])),
        # The same limits written in watts (16 A x 230 V x 3, 32 A x 230 V x 1).
        (profile(CP_MAX, [(0, 11040, 3)], unit=W), profile(TX_DEFAULT, [(0, 7360, 1)], unit=W)),
        # The phase counts the other way round, and phases absent (3, errata 3.69) on the cap.
        (profile(CP_MAX, [(0, 32, 1)]), profile(TX_DEFAULT, [(0, 16, 3)])),
        (profile(CP_MAX, [(0, 16)]), profile(TX_DEFAULT, [(0, 7360, 1)], unit=W)),
    ],
)
def test_limits_on_different_phases_meet_on_the_fewer_phases(
    cap: ChargingProfile, default: ChargingProfile
) -> None:
    installed = on(0, cap) + on(1, default)
    in_a = composite_schedule(
        installed, connector_id=1, start=T0, duration=HOUR, charging_rate_unit=A
    )
    in_w = composite_schedule(
        installed, connector_id=1, start=T0, duration=HOUR, charging_rate_unit=W
    )
    # One physical limit: 16 A on one phase, which is 3,680 W at 230 V.
    assert periods(in_a) == [(0, 16, 1)]
    assert periods(in_w) == [(0, 3680, 1)]


def test_a_second_shared_by_limits_on_different_phases_takes_the_physical_lower() -> None:
    # 16 A on 3 phases until 9.5 s, then 32 A on 1 phase: the shared ninth second gets 16 A on
    # one phase, in A and in W alike.
    start = T0 + timedelta(milliseconds=500)
    p = profile(TX_DEFAULT, [(0, 16, 3), (10, 32, 1)])
    for unit, limit in ((A, 16), (W, 3680)):
        result = composite_schedule(
            on(1, p), connector_id=1, start=start, duration=60, charging_rate_unit=unit
        )
        assert periods(result)[1] == (9, limit, 1)


def test_profiles_on_the_wrong_connector_are_ignored() -> None:
    # A charge point rejects these (§3.13.1); should one be listed, it does not count.
    installed = on(1, profile(CP_MAX, [(0, 5)])) + on(0, profile(TX, [(0, 6)]))
    running = {1: TransactionInfo(transaction_id=7, start=T0)}
    assert composite(installed + on(1, profile(TX_DEFAULT, [(0, 20)])), transactions=running) == (
        0,
        7200,
        [(0, 20)],
    )


# --- connector 0: the charge point total ----------------------------------------------------


def test_connector_zero_sums_the_connectors_and_caps_with_charge_point_max() -> None:
    cap = profile(CP_MAX, [(0, 40), (3600, 20)])
    installed = (
        on(0, cap) + on(1, profile(TX_DEFAULT, [(0, 16)])) + on(2, profile(TX_DEFAULT, [(0, 10)]))
    )
    assert composite(installed, connector_id=0) == (0, 7200, [(0, 26), (3600, 20)])


def test_connector_zero_counts_a_station_tx_default_once_per_connector() -> None:
    installed = on(0, profile(TX_DEFAULT, [(0, 10)]))
    assert composite(installed, connector_id=0, connector_ids=[1, 2, 3]) == (0, 7200, [(0, 30)])
    # Connector 0 in the list is the charge point itself, not one more connector.
    assert composite(installed, connector_id=0, connector_ids=[0, 1, 2, 3]) == (0, 7200, [(0, 30)])
    # Without connector_ids only the connectors named by profiles or transactions count.
    assert composite(installed, connector_id=0) is None
    running = {2: TransactionInfo(transaction_id=1, start=T0)}
    assert composite(installed, connector_id=0, transactions=running) == (0, 7200, [(0, 10)])


def test_connector_zero_an_unlimited_connector_makes_the_total_unlimited() -> None:
    cap = profile(CP_MAX, [(0, 40), (3600, 20)])
    installed = on(0, cap) + on(1, profile(TX_DEFAULT, [(0, 16)]))
    assert composite(installed, connector_id=0, connector_ids=[1, 2]) == (
        0,
        7200,
        [(0, 40), (3600, 20)],
    )
    no_cap = on(1, profile(TX_DEFAULT, [(0, 16)]))
    assert composite(no_cap, connector_id=0, connector_ids=[1, 2]) is None
    # A gap limit stands for the unlimited connector: 16 + 6.
    six = CompositeOptions(gap_limit={A: 6})
    assert composite(no_cap, connector_id=0, connector_ids=[1, 2], options=six) == (
        0,
        7200,
        [(0, 22)],
    )


def test_connector_zero_without_connectors_is_the_charge_point_max() -> None:
    installed = on(0, profile(CP_MAX, [(0, 40), (3600, 20)]))
    assert composite(installed, connector_id=0) == (0, 7200, [(0, 40), (3600, 20)])


def test_connector_zero_total_takes_the_most_phases() -> None:
    installed = on(1, profile(TX_DEFAULT, [(0, 16, 1)])) + on(2, profile(TX_DEFAULT, [(0, 10, 3)]))
    result = composite_schedule(installed, connector_id=0, start=T0, duration=HOUR)
    assert result is not None
    period = result.charging_schedule_period[0]
    assert (period.limit, period.number_phases) == (26, 3)


# --- units, rounding, merging ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("phases", "options", "watts"),
    [
        (3, CompositeOptions(), 11040),  # 16 A x 230 V x 3
        (1, CompositeOptions(), 3680),  # 16 A x 230 V x 1
        (None, CompositeOptions(), 11040),  # numberPhases absent: 3 (errata 3.69)
        (None, CompositeOptions(default_number_phases=1), 3680),
        (3, CompositeOptions(nominal_voltage=120), 5760),  # 16 A x 120 V x 3
    ],
)
def test_amperes_to_watts(phases: int | None, options: CompositeOptions, watts: float) -> None:
    p = profile(TX_DEFAULT, [(0, 16, phases)])
    assert composite(on(1, p), charging_rate_unit=W, options=options) == (0, 7200, [(0, watts)])


@pytest.mark.parametrize(
    ("limit", "phases", "amperes"),
    [
        (11000, 3, 15.9),  # 15.942..
        (7400, 1, 32.1),  # 32.173..
        (13800, None, 20),  # exactly 20
    ],
)
def test_watts_to_amperes_rounds_down(limit: float, phases: int | None, amperes: float) -> None:
    p = profile(TX_DEFAULT, [(0, limit, phases)], unit=W)
    assert composite(on(1, p), charging_rate_unit=A) == (0, 7200, [(0, amperes)])


def test_without_a_unit_asked_the_profiles_unit_is_used() -> None:
    p = profile(TX_DEFAULT, [(0, 11000)], unit=W)
    result = composite_schedule(on(1, p), connector_id=1, start=T0, duration=HOUR)
    assert result is not None
    assert result.charging_rate_unit is W


def test_mixed_units_without_a_unit_asked_use_the_fallback_unit() -> None:
    installed = on(0, profile(CP_MAX, [(0, 11000, 3)], unit=W)) + on(
        1, profile(TX_DEFAULT, [(0, 16, 3)])
    )
    result = composite_schedule(installed, connector_id=1, start=T0, duration=HOUR)
    assert result is not None
    assert result.charging_rate_unit is A
    assert shape(result) == (0, 3600, [(0, 15.9)])
    in_watts = CompositeOptions(fallback_unit=W)
    assert composite(installed, options=in_watts) == (0, 7200, [(0, 11000)])


def test_periods_equal_after_rounding_are_merged() -> None:
    # 11000 W and 11020 W are both 15.9 A once rounded down; 16 A twice is one period.
    installed = on(
        1,
        profile(TX_DEFAULT, [(0, 11000), (1800, 11020)], unit=W, duration=HOUR, stack_level=1),
        profile(TX_DEFAULT, [(0, 16)], profile_id=2),
    )
    assert composite(installed, charging_rate_unit=A) == (0, 7200, [(0, 15.9), (3600, 16)])
    same = on(
        1,
        profile(TX_DEFAULT, [(0, 16)], duration=HOUR, stack_level=1),
        profile(TX_DEFAULT, [(0, 16)], profile_id=2),
    )
    assert composite(same) == (0, 7200, [(0, 16)])


# --- sub-second times -----------------------------------------------------------------------


def test_a_second_shared_by_two_limits_takes_the_lower() -> None:
    start = T0 + timedelta(milliseconds=500)
    down = profile(TX_DEFAULT, [(0, 20), (10, 8)])
    result = composite_schedule(on(1, down), connector_id=1, start=start, duration=60)
    assert result is not None
    assert result.start_schedule == start
    # The change at 9.5 s: the whole ninth second already has the lower limit.
    assert [(p.start_period, p.limit) for p in result.charging_schedule_period] == [(0, 20), (9, 8)]
    up = profile(TX_DEFAULT, [(0, 8), (10, 20)])
    result = composite_schedule(on(1, up), connector_id=1, start=start, duration=60)
    assert result is not None
    assert [(p.start_period, p.limit) for p in result.charging_schedule_period] == [
        (0, 8),
        (10, 20),
    ]


def test_a_fractional_leading_gap_starts_on_the_whole_second_before() -> None:
    start = T0 + timedelta(milliseconds=500)
    p = profile(TX_DEFAULT, [(0, 20)], start_schedule=at(10))
    result = composite_schedule(on(1, p), connector_id=1, start=start, duration=60)
    assert result is not None
    assert result.start_schedule == start + timedelta(seconds=9)
    assert result.duration == 51


# --- arguments ------------------------------------------------------------------------------


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        composite_schedule([], connector_id=1, start=datetime(2024, 1, 1), duration=60)
    with pytest.raises(ValueError, match="positive"):
        composite_schedule([], connector_id=1, start=T0, duration=0)
    with pytest.raises(ValueError, match="connector_id"):
        composite_schedule([], connector_id=-1, start=T0, duration=60)
    with pytest.raises(ValueError, match="timezone-aware"):
        TransactionInfo(transaction_id=1, start=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="connector_id"):
        InstalledProfile(connector_id=-1, profile=profile(TX_DEFAULT, [(0, 1)]))


def test_options_are_frozen_copies() -> None:
    limits = {A: 32.0}
    options = CompositeOptions(gap_limit=limits)
    limits[A] = 1.0
    assert options.gap_limit == {A: 32.0}
    assert options == CompositeOptions(gap_limit={A: 32.0})


@pytest.mark.parametrize(
    ("gap_limit", "message"),
    [
        ({A: -1.0}, r"gap_limit\[A\] must be a finite limit >= 0 \(§7.14\), got -1.0"),
        ({A: 32.0, W: -0.1}, r"gap_limit\[W\] must be a finite limit >= 0"),
        ({W: float("nan")}, r"gap_limit\[W\] must be a finite limit >= 0"),
        ({A: float("inf")}, r"gap_limit\[A\] must be a finite limit >= 0"),
        ({A: "32"}, r"gap_limit\[A\] must be a number, got '32'"),
        ({A: True}, r"gap_limit\[A\] must be a number"),
        ({"A": 32.0}, r"gap_limit keys must be ChargingRateUnitType, got 'A'"),
    ],
)
def test_a_gap_limit_that_is_no_limit_is_refused(gap_limit: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CompositeOptions(gap_limit=gap_limit)  # type: ignore[arg-type]


def test_a_gap_limit_of_zero_or_more_is_accepted() -> None:
    assert CompositeOptions(gap_limit={A: 0}).gap_limit == {A: 0}
    assert CompositeOptions(gap_limit={}).gap_limit == {}
    assert CompositeOptions(gap_limit={A: 6, W: 4140.5}).gap_limit == {A: 6, W: 4140.5}


# --- GetCompositeSchedule.conf --------------------------------------------------------------


def test_a_composite_becomes_an_accepted_response() -> None:
    p = profile(TX_DEFAULT, [(0, 20), (1800, 10, 1)], start_schedule=at(600))
    schedule = composite_schedule(on(2, p), connector_id=2, start=T0, duration=HOUR)
    assert schedule is not None
    response = composite_schedule_response(schedule, connector_id=2)
    assert response.status is GetCompositeScheduleStatus.ACCEPTED
    assert response.connector_id == 2
    # The periods count from scheduleStart: the leading gap of 600 s moved it.
    assert response.schedule_start == at(600)
    reported = response.charging_schedule
    assert reported is not None
    # Errata 3.57: no startSchedule inside; everything else as computed.
    assert reported.start_schedule is None
    assert reported.charging_rate_unit is schedule.charging_rate_unit
    assert reported.duration == schedule.duration == 3000
    assert reported.charging_schedule_period == schedule.charging_schedule_period
    inside = composite_schedule_response(schedule, connector_id=2, start_schedule_inside=True)
    assert inside.charging_schedule == schedule
    assert inside.schedule_start == at(600)
    # What a host reports compares equal to what it expected.
    assert compare_composite_schedules(schedule, response) == []


def test_the_response_goes_on_the_wire_as_the_schema_says() -> None:
    schedule = composite_schedule(
        on(1, profile(TX_DEFAULT, [(0, 16, 3)])), connector_id=1, start=T0, duration=HOUR
    )
    response = composite_schedule_response(schedule, connector_id=1)
    payload = make_converter().unstructure(response)
    assert payload == {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2024-01-01T00:00:00Z",
        "chargingSchedule": {
            "duration": 3600,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0, "numberPhases": 3}],
        },
    }
    assert validator_for("GetCompositeScheduleResponse").violations(payload) == []


def test_no_composite_becomes_a_rejected_response() -> None:
    response = composite_schedule_response(None, connector_id=1)
    assert response.status is GetCompositeScheduleStatus.REJECTED
    assert (response.connector_id, response.schedule_start, response.charging_schedule) == (
        None,
        None,
        None,
    )


def test_a_response_needs_a_framed_schedule_and_a_connector() -> None:
    schedule = composite_schedule(
        on(1, profile(TX_DEFAULT, [(0, 16)])), connector_id=1, start=T0, duration=HOUR
    )
    assert schedule is not None
    with pytest.raises(ValueError, match="connector_id must be >= 0"):
        composite_schedule_response(schedule, connector_id=-1)
    unframed = ChargingSchedule(
        charging_rate_unit=A, charging_schedule_period=schedule.charging_schedule_period
    )
    with pytest.raises(ValueError, match="no start_schedule"):
        composite_schedule_response(unframed, connector_id=1)
