"""Meter values for billing: normalisation, phase totals and transaction energy (§7.31, §7.45)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ocpp16csms.datatypes import (
    MeterValue,
    SampledValue,
)
from ocpp16csms.enums import (
    Location,
    Measurand,
    Phase,
    ReadingContext,
    UnitOfMeasure,
    ValueFormat,
)
from ocpp16csms.errors import CsmsError
from ocpp16csms.profiles.core.meter_values import (
    AnomalyKind,
    EnergySource,
    MeterValueError,
    ReadingKind,
    ReadingOrigin,
    natural_unit,
    normalise,
    phase_totals,
    reading_kind,
    transaction_energy,
)

U = UnitOfMeasure
M = Measurand
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sample(value: str, **kw: object) -> SampledValue:
    return SampledValue(value=value, **kw)  # type: ignore[arg-type]


def register(minutes: float, *values: SampledValue) -> MeterValue:
    return MeterValue(timestamp=at(minutes), sampled_value=values)


def series(values: Sequence[int | str], unit: UnitOfMeasure | None = None) -> list[MeterValue]:
    """One register reading per minute, from minute 1 on."""
    return [register(i + 1, sample(str(v), unit=unit)) for i, v in enumerate(values)]


# --- normalise --------------------------------------------------------------------------------


def test_defaults_of_a_bare_value() -> None:
    item = normalise(sample("1234"))
    assert item.measurand is M.ENERGY_ACTIVE_IMPORT_REGISTER
    assert item.context is ReadingContext.SAMPLE_PERIODIC
    assert item.location is Location.OUTLET
    assert item.format is ValueFormat.RAW
    assert (item.value, item.unit, item.resolution) == (Decimal(1234), U.WH, Decimal(1))
    assert (item.phase, item.declared_unit, item.raw) == (None, None, "1234")
    assert not item.signed


@pytest.mark.parametrize(
    ("measurand", "value", "unit", "expected", "base", "resolution"),
    [
        (M.ENERGY_ACTIVE_IMPORT_REGISTER, "12.3", U.KWH, "12300", U.WH, "100"),
        (M.ENERGY_ACTIVE_EXPORT_INTERVAL, "250", U.WH, "250", U.WH, "1"),
        (M.ENERGY_REACTIVE_IMPORT_REGISTER, "1.25", U.KVARH, "1250", U.VARH, "10"),
        (M.ENERGY_REACTIVE_EXPORT_REGISTER, "7", None, "7", U.VARH, "1"),
        (M.POWER_ACTIVE_IMPORT, "11", U.KW, "11000", U.W, "1000"),
        (M.POWER_ACTIVE_IMPORT, "11040", U.W, "11040", U.W, "1"),
        (M.POWER_OFFERED, "7.4", U.KW, "7400", U.W, "100"),
        (M.POWER_REACTIVE_IMPORT, "0.5", U.KVAR, "500", U.VAR, "100"),
        (M.POWER_REACTIVE_EXPORT, "30", U.VAR, "30", U.VAR, "1"),
        (M.POWER_ACTIVE_IMPORT, "-3", None, "-3", U.W, "1"),
        (M.CURRENT_IMPORT, "15.92", U.A, "15.92", U.A, "0.01"),
        (M.CURRENT_OFFERED, "32", None, "32", U.A, "1"),
        (M.VOLTAGE, "231.4", U.V, "231.4", U.V, "0.1"),
        (M.FREQUENCY, "49.98", U.HERTZ, "49.98", U.HERTZ, "0.01"),
        (M.FREQUENCY, "50", None, "50", U.HERTZ, "1"),
        (M.TEMPERATURE, "21.5", U.CELSIUS, "21.5", U.CELSIUS, "0.1"),
        (M.TEMPERATURE, "21.5", U.CELCIUS, "21.5", U.CELSIUS, "0.1"),
        (M.TEMPERATURE, "98.6", U.FAHRENHEIT, "37", U.CELSIUS, None),
        (M.TEMPERATURE, "-40", U.FAHRENHEIT, "-40", U.CELSIUS, None),
        (M.TEMPERATURE, "300", U.K, "26.85", U.CELSIUS, "1"),
        (M.SOC, "81", U.PERCENT, "81", U.PERCENT, "1"),
        (M.SOC, "81", None, "81", U.PERCENT, "1"),
        (M.POWER_FACTOR, "0.98", None, "0.98", None, "0.01"),
        (M.POWER_FACTOR, "98", U.PERCENT, "98", U.PERCENT, "1"),
        (M.RPM, "1200", None, "1200", None, "1"),
    ],
)
def test_each_unit_family_converts_to_its_base_unit(
    measurand: Measurand,
    value: str,
    unit: UnitOfMeasure | None,
    expected: str,
    base: UnitOfMeasure | None,
    resolution: str | None,
) -> None:
    item = normalise(sample(value, measurand=measurand, unit=unit))
    assert item.value == Decimal(expected)
    assert item.unit is base
    assert item.declared_unit is unit
    if resolution is not None:
        assert item.resolution == Decimal(resolution)
    if base is not None:
        assert natural_unit(measurand) in (base, None)


def test_fahrenheit_resolution_is_five_ninths_of_a_degree() -> None:
    item = normalise(sample("98", measurand=M.TEMPERATURE, unit=U.FAHRENHEIT))
    assert item.resolution is not None
    assert abs(item.resolution * 9 - 5) < Decimal("1e-40")
    assert item.value is not None
    assert abs(item.value * 9 - 330) < Decimal("1e-40")


def test_signed_data_is_kept_intact_and_never_parsed() -> None:
    blob = "AP;0;3;ALCV3ABBBISHMA2RYEGAZE3HV5YQBQRQAEHAR3ZNL5WNA===;BIHEIWSHAAA"
    item = normalise(
        sample(
            blob, format=ValueFormat.SIGNED_DATA, unit=U.KWH, context=ReadingContext.TRANSACTION_END
        )
    )
    assert item.signed
    assert item.raw == blob
    assert (item.value, item.resolution) == (None, None)
    # The unit stays as declared: a signed value cannot be converted.
    assert item.unit is U.KWH
    assert item.context is ReadingContext.TRANSACTION_END
    assert normalise(sample(blob, format=ValueFormat.SIGNED_DATA)).unit is U.WH
    # Whatever the blob holds, even text no number parser would take.
    assert normalise(sample("NaN", format=ValueFormat.SIGNED_DATA)).raw == "NaN"


def test_signed_data_is_left_out_of_totals_and_energy() -> None:
    signed = sample("deadbeef", format=ValueFormat.SIGNED_DATA)
    value = register(1, signed, sample("5000"))
    assert phase_totals(value)[M.ENERGY_ACTIVE_IMPORT_REGISTER, Location.OUTLET].total == 5000
    only_signed = register(2, signed)
    assert phase_totals(only_signed) == {}
    result = transaction_energy(1000, None, [value, only_signed])
    assert [r.value for r in result.readings] == [5000]
    assert result.anomalies == ()


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "abc",
        "1,5",
        "1_000",
        "NaN",
        "-Infinity",
        "inf",
        "0x10",
        "1e",
        "١٢",
        "1 2",
        "1e9999999",
    ],
)
def test_a_raw_value_that_is_no_decimal_number_is_refused(raw: str) -> None:
    with pytest.raises(MeterValueError) as caught:
        normalise(sample(raw, unit=U.KWH))
    assert repr(raw) in str(caught.value)
    assert caught.value.value == raw
    assert caught.value.unit is U.KWH
    assert isinstance(caught.value, CsmsError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("raw", ["1" * 31, "0." + "0" * 30 + "1", "1e30", "0e-31", "0e31"])
def test_a_raw_value_with_too_many_digits_is_refused(raw: str) -> None:
    with pytest.raises(MeterValueError, match="30 digits"):
        normalise(sample(raw))


@pytest.mark.parametrize(
    ("raw", "value"),
    [(" 12 ", "12"), ("+5", "5"), ("-0", "0"), (".5", "0.5"), ("5.", "5"), ("1.5E3", "1500")],
)
def test_decimal_forms_that_are_accepted(raw: str, value: str) -> None:
    assert normalise(sample(raw)).value == Decimal(value)


@pytest.mark.parametrize(
    ("measurand", "unit"),
    [
        (M.ENERGY_ACTIVE_IMPORT_REGISTER, U.A),
        (M.ENERGY_ACTIVE_IMPORT_REGISTER, U.KVARH),
        (M.ENERGY_REACTIVE_IMPORT_REGISTER, U.WH),
        (M.POWER_ACTIVE_IMPORT, U.KWH),
        (M.VOLTAGE, U.HERTZ),
        (M.TEMPERATURE, U.PERCENT),
        (M.RPM, U.HERTZ),
    ],
)
def test_a_unit_that_does_not_measure_the_measurand_is_refused(
    measurand: Measurand, unit: UnitOfMeasure
) -> None:
    with pytest.raises(MeterValueError, match=f"unit {unit.value} does not measure"):
        normalise(sample("1", measurand=measurand, unit=unit))


decimals = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=3, allow_nan=False
)


@given(decimals)
def test_kwh_is_a_thousand_wh(x: Decimal) -> None:
    in_kwh = normalise(sample(str(x), unit=U.KWH))
    in_wh = normalise(sample(str(x * 1000), unit=U.WH))
    assert in_kwh.value == in_wh.value == x * 1000
    assert in_kwh.unit is in_wh.unit is U.WH
    power = normalise(sample(str(x), measurand=M.POWER_ACTIVE_IMPORT, unit=U.KW))
    assert power.value == x * 1000


@given(decimals)
def test_every_temperature_unit_agrees(celsius: Decimal) -> None:
    def to_c(unit: UnitOfMeasure, value: Decimal) -> Decimal:
        converted = normalise(sample(str(value), measurand=M.TEMPERATURE, unit=unit)).value
        assert converted is not None
        return converted

    assert to_c(U.CELCIUS, celsius) == to_c(U.CELSIUS, celsius) == celsius
    assert to_c(U.K, celsius + Decimal("273.15")) == celsius
    assert abs(to_c(U.FAHRENHEIT, celsius * 9 / 5 + 32) - celsius) < Decimal("1e-20")


# --- kinds and phases -------------------------------------------------------------------------


def test_reading_kinds() -> None:
    registers = {m for m in Measurand if reading_kind(m) is ReadingKind.REGISTER}
    intervals = {m for m in Measurand if reading_kind(m) is ReadingKind.INTERVAL}
    assert registers == {
        M.ENERGY_ACTIVE_EXPORT_REGISTER,
        M.ENERGY_ACTIVE_IMPORT_REGISTER,
        M.ENERGY_REACTIVE_EXPORT_REGISTER,
        M.ENERGY_REACTIVE_IMPORT_REGISTER,
    }
    assert intervals == {
        M.ENERGY_ACTIVE_EXPORT_INTERVAL,
        M.ENERGY_ACTIVE_IMPORT_INTERVAL,
        M.ENERGY_REACTIVE_EXPORT_INTERVAL,
        M.ENERGY_REACTIVE_IMPORT_INTERVAL,
    }
    assert reading_kind(M.POWER_ACTIVE_IMPORT) is ReadingKind.INSTANTANEOUS
    assert reading_kind(M.SOC) is ReadingKind.INSTANTANEOUS


def phased(measurand: Measurand, unit: UnitOfMeasure, **values: str) -> list[SampledValue]:
    return [
        sample(v, measurand=measurand, unit=unit, phase=Phase(p.replace("_", "-")))
        for p, v in values.items()
    ]


def test_phase_totals_sum_what_adds_and_only_that() -> None:
    value = register(
        1,
        *phased(M.POWER_ACTIVE_IMPORT, U.KW, L1="3.6", L2="3.7", L3="3.5"),
        *phased(M.CURRENT_IMPORT, U.A, L1="16", L2="15.5", L3="16.1", N="0.4"),
        *phased(M.VOLTAGE, U.V, L1_N="230", L2_N="231", L3_N="229", L1_L2="398"),
        *phased(M.CURRENT_OFFERED, U.A, L1="16", L2="16", L3="16"),
        *phased(M.ENERGY_ACTIVE_IMPORT_REGISTER, U.WH, L1_N="100", L2_N="200", L3_N="300"),
        sample("40", measurand=M.TEMPERATURE, location=Location.BODY),
        sample("35", measurand=M.TEMPERATURE, location=Location.CABLE),
    )
    totals = phase_totals(value)
    power = totals[M.POWER_ACTIVE_IMPORT, Location.OUTLET]
    assert (power.total, power.unit, power.from_phases) == (Decimal(10800), U.W, True)
    assert power.resolution == Decimal(300)
    assert power.phases == ((Phase.L1, 3600), (Phase.L2, 3700), (Phase.L3, 3500))
    # The neutral current is not one more line.
    assert totals[M.CURRENT_IMPORT, Location.OUTLET].total == Decimal("47.6")
    voltage = totals[M.VOLTAGE, Location.OUTLET]
    assert voltage.total is None
    assert len(voltage.phases) == 4
    assert totals[M.CURRENT_OFFERED, Location.OUTLET].total is None
    assert totals[M.ENERGY_ACTIVE_IMPORT_REGISTER, Location.OUTLET].total == 600
    assert totals[M.TEMPERATURE, Location.BODY].total == 40
    assert totals[M.TEMPERATURE, Location.CABLE].total == 35


def test_a_value_without_phase_is_the_total() -> None:
    value = register(
        1,
        *phased(M.POWER_ACTIVE_IMPORT, U.W, L1="3000", L2="3000"),
        sample("11000", measurand=M.POWER_ACTIVE_IMPORT, unit=U.W),
        sample("230", measurand=M.VOLTAGE),
    )
    totals = phase_totals(value)
    power = totals[M.POWER_ACTIVE_IMPORT, Location.OUTLET]
    assert (power.total, power.from_phases) == (11000, False)
    assert totals[M.VOLTAGE, Location.OUTLET].total == 230


def test_lx_is_preferred_to_lx_n_and_contexts_filter() -> None:
    value = register(
        1,
        *phased(M.ENERGY_ACTIVE_IMPORT_REGISTER, U.WH, L1="100", L1_N="999", L2_N="200"),
        sample("7", measurand=M.SOC, context=ReadingContext.TRIGGER),
    )
    totals = phase_totals(value)
    assert totals[M.ENERGY_ACTIVE_IMPORT_REGISTER, Location.OUTLET].total == 300
    only_periodic = phase_totals(value, contexts={ReadingContext.SAMPLE_PERIODIC})
    assert set(only_periodic) == {(M.ENERGY_ACTIVE_IMPORT_REGISTER, Location.OUTLET)}


def test_phase_totals_raise_on_a_bad_value() -> None:
    with pytest.raises(MeterValueError, match="'oops'"):
        phase_totals(register(1, sample("oops", measurand=M.VOLTAGE)))


# --- transaction energy: scenarios ------------------------------------------------------------


def test_consistent_registers_give_meter_stop_minus_meter_start() -> None:
    result = transaction_energy(
        10_000, 17_500, series([11_000, 13_000, 17_500]), started_at=at(0), stopped_at=at(5)
    )
    assert result.energy_wh == 7_500
    assert result.source is EnergySource.METER_STOP
    assert result.anomalies == ()
    assert result.start.origin is ReadingOrigin.METER_START
    assert result.start.timestamp == at(0)
    assert (result.end.origin, result.end.value, result.end.timestamp) == (
        ReadingOrigin.METER_STOP,
        17_500,
        at(5),
    )
    assert result.first_reading is not None
    assert result.last_reading is not None
    assert (result.first_reading.value, result.last_reading.value) == (11_000, 17_500)


def test_without_meter_stop_the_last_reading_ends_it() -> None:
    result = transaction_energy(10_000, None, series(["10.5", "12.25"], U.KWH))
    assert result.energy_wh == 2_250
    assert result.source is EnergySource.READINGS
    assert result.end == result.last_reading
    nothing = transaction_energy(10_000, None, [])
    assert (nothing.energy_wh, nothing.source) == (0, EnergySource.METER_START_ONLY)
    assert nothing.end == nothing.start


def test_meter_stop_below_the_readings_is_left_out() -> None:
    result = transaction_energy(10_000, 3, series([12_000, 15_000]))
    assert result.energy_wh == 5_000
    assert result.source is EnergySource.READINGS
    [anomaly] = result.anomalies
    assert anomaly.kind is AnomalyKind.METER_STOP_BELOW_READINGS
    assert anomaly.before is not None
    assert anomaly.before.value == 15_000
    assert anomaly.before.timestamp == at(2)
    assert anomaly.after is not None
    assert anomaly.after.origin is ReadingOrigin.METER_STOP


def test_a_reset_in_the_middle_counts_both_sides_and_not_the_drop() -> None:
    result = transaction_energy(50_000, 1_500, series([52_000, 53_000, 200, 1_000]))
    # 50 000 -> 53 000, then 200 -> 1 500.
    assert result.energy_wh == 3_000 + 1_300
    assert result.source is EnergySource.METER_STOP
    [anomaly] = result.anomalies
    assert anomaly.kind is AnomalyKind.RESET
    assert anomaly.before is not None
    assert anomaly.after is not None
    assert (anomaly.before.value, anomaly.before.timestamp) == (53_000, at(2))
    assert (anomaly.after.value, anomaly.after.timestamp) == (200, at(3))


def test_a_rollover_counts_the_energy_across_it() -> None:
    # A six-digit kWh display: 999 999.5 kWh, then 0.7 kWh.
    result = transaction_energy(999_998_000, 700, series(["999999.5", "0.7"], U.KWH))
    assert result.energy_wh == 2_700
    assert result.source is EnergySource.METER_STOP
    [anomaly] = result.anomalies
    assert anomaly.kind is AnomalyKind.ROLLOVER
    assert anomaly.rollover_limit == 10**9
    # meterStop itself after a rollover, with no reading in between.
    direct = transaction_energy(2**32 - 100, 50, [])
    assert direct.energy_wh == 150
    assert [a.kind for a in direct.anomalies] == [AnomalyKind.ROLLOVER]


def test_a_drop_far_from_a_limit_is_no_rollover() -> None:
    result = transaction_energy(500_000_000, 10, [])
    assert result.energy_wh == 0
    assert [a.kind for a in result.anomalies] == [AnomalyKind.RESET]
    # Near a limit, but landing far above 0: a replaced meter, not a rollover.
    landed_high = transaction_energy(999_995_000, 500_000_000, [])
    assert landed_high.energy_wh == 0
    assert [a.kind for a in landed_high.anomalies] == [AnomalyKind.RESET]


def test_a_drop_within_the_resolution_is_rounding() -> None:
    # meterStart in Wh, readings in tenths of a kWh: 12.3 kWh may be 12 345 Wh truncated.
    result = transaction_energy(12_345, 14_020, series(["12.3", "13.9", "14.0"], U.KWH))
    assert result.anomalies == ()
    assert result.energy_wh == 14_020 - 12_345


def test_phase_registers_are_summed_when_no_total_is_given() -> None:
    values = [
        register(1, *phased(M.ENERGY_ACTIVE_IMPORT_REGISTER, U.KWH, L1="1", L2="1", L3="1")),
        register(2, *phased(M.ENERGY_ACTIVE_IMPORT_REGISTER, U.KWH, L1="2", L2="2", L3="2")),
    ]
    result = transaction_energy(3_000, None, values)
    assert result.energy_wh == 3_000
    assert all(r.from_phases for r in result.readings)


def test_only_the_outlet_register_in_billing_contexts_counts() -> None:
    values = [
        register(1, sample("5000", context=ReadingContext.TRANSACTION_BEGIN)),
        register(2, sample("9000", context=ReadingContext.INTERRUPTION_BEGIN)),
        register(3, sample("7000", location=Location.INLET)),
        register(4, sample("6000", measurand=M.ENERGY_ACTIVE_IMPORT_INTERVAL)),
        register(5, sample("11000", measurand=M.POWER_ACTIVE_IMPORT)),
        register(6, sample("6500", context=ReadingContext.TRANSACTION_END)),
    ]
    result = transaction_energy(5_000, None, values)
    assert [r.value for r in result.readings] == [5000, 6500]
    assert result.energy_wh == 1_500
    inlet = transaction_energy(5_000, None, values, location=Location.INLET)
    assert [r.value for r in inlet.readings] == [7000]
    interruptions = transaction_energy(
        5_000, None, values, contexts={ReadingContext.INTERRUPTION_BEGIN}
    )
    assert [r.value for r in interruptions.readings] == [9000]


def test_an_unreadable_register_value_is_reported_and_left_out() -> None:
    values = [
        register(1, sample("6000")),
        register(2, sample("garbage")),
        register(3, sample("16", unit=U.A)),
        register(4, sample("7000")),
    ]
    result = transaction_energy(5_000, 7_000, values)
    assert result.energy_wh == 2_000
    assert [(a.kind, a.timestamp, a.raw) for a in result.anomalies] == [
        (AnomalyKind.INVALID_VALUE, at(2), "garbage"),
        (AnomalyKind.INVALID_VALUE, at(3), "16"),
    ]
    # Another measurand's bad value is none of the energy's business.
    assert (
        transaction_energy(5_000, 7_000, [register(1, sample("x", measurand=M.SOC))]).anomalies
        == ()
    )


# --- transaction energy: properties -----------------------------------------------------------

increments = st.lists(st.integers(min_value=0, max_value=50_000), max_size=12)
starts = st.integers(min_value=0, max_value=10**8)


def cumulative(start: int, steps: Sequence[int]) -> list[int]:
    out, level = [], start
    for step in steps:
        level += step
        out.append(level)
    return out


@given(starts, increments, st.integers(min_value=0, max_value=50_000))
def test_monotone_registers_give_meter_stop_minus_meter_start(
    start: int, steps: list[int], last: int
) -> None:
    readings = cumulative(start, steps)
    stop = (readings[-1] if readings else start) + last
    result = transaction_energy(start, stop, series(readings))
    assert result.anomalies == ()
    assert result.energy_wh == stop - start
    assert result.source is EnergySource.METER_STOP
    no_stop = transaction_energy(start, None, series(readings))
    assert no_stop.anomalies == ()
    assert no_stop.energy_wh == (readings[-1] - start if readings else 0)


@given(
    starts, st.lists(st.integers(min_value=0, max_value=2 * 10**8), max_size=10), st.none() | starts
)
def test_energy_is_never_negative(start: int, readings: list[int], stop: int | None) -> None:
    result = transaction_energy(start, stop, series(readings))
    assert result.energy_wh >= 0
    # Never more than the rises along the way (plus what rollovers add).
    points = [start, *readings, *([stop] if stop is not None else [])]
    rises = sum(max(0, b - a) for a, b in itertools.pairwise(points))
    rollovers = sum(a.rollover_limit or 0 for a in result.anomalies)
    assert result.energy_wh <= rises + rollovers


@given(starts, increments.filter(lambda s: len(s) >= 2), st.data())
def test_an_injected_decrease_is_reported(
    start: int, steps: list[int], data: st.DataObject
) -> None:
    readings = cumulative(start, steps)
    where = data.draw(st.integers(min_value=1, max_value=len(readings) - 1))
    highest = max([start, *readings[:where]])
    lowered = data.draw(st.integers(min_value=0, max_value=highest - 1)) if highest else None
    assume(lowered is not None)
    assert lowered is not None
    readings[where] = lowered
    result = transaction_energy(start, None, series(readings))
    drops = [a for a in result.anomalies if a.kind in (AnomalyKind.RESET, AnomalyKind.ROLLOVER)]
    assert drops
    assert drops[0].after is not None
    assert drops[0].after.timestamp == at(where + 1)
    assert result.energy_wh >= 0


@given(
    starts,
    st.lists(st.integers(min_value=0, max_value=2 * 10**8), max_size=10),
    st.none() | starts,
    st.randoms(use_true_random=False),
)
def test_the_order_of_the_meter_values_does_not_matter(
    start: int, readings: list[int], stop: int | None, rnd: random.Random
) -> None:
    # Two readings a minute: equal timestamps must not make the order matter either.
    values = [register(i // 2, sample(str(v))) for i, v in enumerate(readings)]
    shuffled = list(values)
    rnd.shuffle(shuffled)
    assert transaction_energy(start, stop, shuffled) == transaction_energy(start, stop, values)


@given(starts, increments)
def test_kwh_and_wh_registers_give_the_same_energy(start: int, steps: list[int]) -> None:
    readings = cumulative(start, [s * 1000 for s in steps])
    in_wh = transaction_energy(start, None, series(readings))
    in_kwh = transaction_energy(
        start, None, series([str(Decimal(r) / 1000) for r in readings], U.KWH)
    )
    assert in_wh.energy_wh == in_kwh.energy_wh
