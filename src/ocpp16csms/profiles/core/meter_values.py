"""Meter values a billing system can use (OCPP 1.6 §3.16, §7.31, §7.45, §9.1.15, errata v4.0).

Pure functions over the wire datatypes: :func:`normalise` turns one ``SampledValue`` into a
``Decimal`` in the base unit of its kind; :func:`phase_totals` combines the per-phase values of
one ``MeterValue``; :func:`transaction_energy` works out a transaction's energy from meterStart,
meterStop and the Energy.Active.Import.Register readings, reporting what does not add up
instead of billing it. No I/O, no clock. The rules are written out in ``docs/meter-values.md``.
"""

from __future__ import annotations

import bisect
import decimal
import re
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import attrs

from ...datatypes import MeterValue, SampledValue
from ...enums import Location, Measurand, Phase, ReadingContext, UnitOfMeasure, ValueFormat
from ...errors import CsmsError

__all__ = [
    "ENERGY_CONTEXTS",
    "AnomalyKind",
    "EnergyAnomaly",
    "EnergyResult",
    "EnergySource",
    "MeterValueError",
    "NormalisedValue",
    "PhaseTotal",
    "Reading",
    "ReadingKind",
    "ReadingOrigin",
    "natural_unit",
    "normalise",
    "phase_totals",
    "reading_kind",
    "transaction_energy",
]


class MeterValueError(CsmsError, ValueError):
    """A sampled value cannot be read: a Raw value that is no decimal number, or a unit that
    does not measure its measurand. ``value`` is the wire string, ``unit`` the declared unit."""

    def __init__(self, message: str, *, value: str, unit: UnitOfMeasure | None = None) -> None:
        super().__init__(message)
        self.value = value
        self.unit = unit


# --- units ------------------------------------------------------------------------------------

U = UnitOfMeasure
_ONE = Decimal(1)

# unit -> (base unit, offset, scale): base = (value + offset) * scale, the scale as a fraction
# so that a Fahrenheit value divides once, last.
_CONVERSIONS: dict[UnitOfMeasure, tuple[UnitOfMeasure, Decimal, tuple[int, int]]] = {
    U.WH: (U.WH, Decimal(0), (1, 1)),
    U.KWH: (U.WH, Decimal(0), (1000, 1)),
    U.VARH: (U.VARH, Decimal(0), (1, 1)),
    U.KVARH: (U.VARH, Decimal(0), (1000, 1)),
    U.W: (U.W, Decimal(0), (1, 1)),
    U.KW: (U.W, Decimal(0), (1000, 1)),
    U.VA: (U.VA, Decimal(0), (1, 1)),
    U.KVA: (U.VA, Decimal(0), (1000, 1)),
    U.VAR: (U.VAR, Decimal(0), (1, 1)),
    U.KVAR: (U.VAR, Decimal(0), (1000, 1)),
    U.A: (U.A, Decimal(0), (1, 1)),
    U.V: (U.V, Decimal(0), (1, 1)),
    U.HERTZ: (U.HERTZ, Decimal(0), (1, 1)),
    U.CELSIUS: (U.CELSIUS, Decimal(0), (1, 1)),
    # The misspelling of the 1.6 schemas means the same unit (OCA errata).
    U.CELCIUS: (U.CELSIUS, Decimal(0), (1, 1)),
    U.FAHRENHEIT: (U.CELSIUS, Decimal(-32), (5, 9)),
    U.K: (U.CELSIUS, Decimal("-273.15"), (1, 1)),
    U.PERCENT: (U.PERCENT, Decimal(0), (1, 1)),
}

M = Measurand
# The base unit each measurand is measured in; None: a dimensionless number.
_NATURAL: dict[Measurand, UnitOfMeasure | None] = {
    M.CURRENT_EXPORT: U.A,
    M.CURRENT_IMPORT: U.A,
    M.CURRENT_OFFERED: U.A,
    M.ENERGY_ACTIVE_EXPORT_REGISTER: U.WH,
    M.ENERGY_ACTIVE_IMPORT_REGISTER: U.WH,
    M.ENERGY_REACTIVE_EXPORT_REGISTER: U.VARH,
    M.ENERGY_REACTIVE_IMPORT_REGISTER: U.VARH,
    M.ENERGY_ACTIVE_EXPORT_INTERVAL: U.WH,
    M.ENERGY_ACTIVE_IMPORT_INTERVAL: U.WH,
    M.ENERGY_REACTIVE_EXPORT_INTERVAL: U.VARH,
    M.ENERGY_REACTIVE_IMPORT_INTERVAL: U.VARH,
    M.FREQUENCY: U.HERTZ,
    M.POWER_ACTIVE_EXPORT: U.W,
    M.POWER_ACTIVE_IMPORT: U.W,
    M.POWER_FACTOR: None,
    M.POWER_OFFERED: U.W,
    M.POWER_REACTIVE_EXPORT: U.VAR,
    M.POWER_REACTIVE_IMPORT: U.VAR,
    M.RPM: None,
    M.SOC: U.PERCENT,
    M.TEMPERATURE: U.CELSIUS,
    M.VOLTAGE: U.V,
}

# Measurands whose per-phase values add up to the charge point's total. Voltage, frequency,
# temperature, power factor, SoC and RPM do not add; Current.Offered is a per-phase limit.
_ADDITIVE = frozenset(
    {
        M.CURRENT_EXPORT,
        M.CURRENT_IMPORT,
        *(
            m
            for m in Measurand
            if m.value.startswith(("Energy.", "Power.Active", "Power.Reactive"))
        ),
        M.POWER_OFFERED,
    }
)

# One line each; ``Lx`` is preferred to ``Lx-N`` when a charge point sends both.
_LINES = ((Phase.L1, Phase.L1_N), (Phase.L2, Phase.L2_N), (Phase.L3, Phase.L3_N))

# A Raw value: a plain decimal number, optionally with a short exponent, ASCII digits only.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?", re.ASCII)
_MAX_DIGITS = 30
"""A Raw value has at most this many digits after the point and before it: a bound far beyond
any meter, which keeps every later computation exact and free of overflow."""

_CONTEXT = decimal.Context(
    prec=80, traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero]
)


def natural_unit(measurand: Measurand) -> UnitOfMeasure | None:
    """The base unit ``measurand`` is measured in; None for Power.Factor and RPM.

    It is also the unit of a sampled value without one: §7.45 says Wh for energy, and we take
    varh for reactive energy and the measurand's own unit for the others.
    """
    return _NATURAL[measurand]


def _parse(raw: str, unit: UnitOfMeasure | None) -> Decimal:
    text = raw.strip(" \t")
    if _DECIMAL.fullmatch(text) is None:
        raise MeterValueError(
            f"Raw sampled value {raw!r} is not a decimal number (§7.45)", value=raw, unit=unit
        )
    number = Decimal(text)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # the pattern admits no NaN or Infinity
    if not -_MAX_DIGITS <= exponent < _MAX_DIGITS or number.adjusted() >= _MAX_DIGITS:
        raise MeterValueError(
            f"Raw sampled value {raw!r} has more than {_MAX_DIGITS} digits before or after the "
            "point",
            value=raw,
            unit=unit,
        )
    return number


class ReadingKind(StrEnum):
    """How a measurand's values relate over time (§7.31)."""

    REGISTER = "Register"
    """A cumulative register (``*.Register``): the total since the meter was made."""
    INTERVAL = "Interval"
    """A quantity over the last sampling interval (``*.Interval``)."""
    INSTANTANEOUS = "Instantaneous"
    """A value at the sampling instant: power, current, voltage, temperature, SoC…"""


def reading_kind(measurand: Measurand) -> ReadingKind:
    """Register, interval or instantaneous, from the measurand's name (§7.31)."""
    if measurand.value.endswith(".Register"):
        return ReadingKind.REGISTER
    if measurand.value.endswith(".Interval"):
        return ReadingKind.INTERVAL
    return ReadingKind.INSTANTANEOUS


@attrs.frozen(kw_only=True)
class NormalisedValue:
    """One sampled value with the §7.45 defaults applied and its number in a base unit.

    For Raw values ``value`` is in ``unit``, the base unit of the declared one (Wh, varh, W,
    var, VA, A, V, Hertz, Celsius, Percent; None for a dimensionless measurand), and
    ``resolution`` is one step of its last digit in that unit. SignedData is kept as it came:
    ``value`` and ``resolution`` are None, ``unit`` is the declared (or default) unit unconverted,
    and ``raw`` holds the signed data. ``raw`` and ``declared_unit`` are always the wire's.
    """

    measurand: Measurand
    context: ReadingContext
    location: Location
    phase: Phase | None
    format: ValueFormat
    value: Decimal | None
    unit: UnitOfMeasure | None
    resolution: Decimal | None
    raw: str
    declared_unit: UnitOfMeasure | None

    @property
    def signed(self) -> bool:
        """True for SignedData, whose value is never parsed."""
        return self.format is ValueFormat.SIGNED_DATA


def normalise(sampled: SampledValue) -> NormalisedValue:
    """Apply the §7.45 defaults to ``sampled`` and convert a Raw value to its base unit.

    Defaults: measurand Energy.Active.Import.Register, context Sample.Periodic, location Outlet,
    format Raw, unit :func:`natural_unit` of the measurand. kWh, kvarh, kW, kVA and kvar are
    multiplied by 1000; Celcius is Celsius, Fahrenheit and K are converted to Celsius.

    Raises :class:`MeterValueError` for a Raw value that is not a decimal number (surrounding
    blanks are allowed; NaN, infinities, digit separators and more than 30 digits on either
    side of the point are not) and for a unit that does not measure the measurand, such as A
    for an energy register. SignedData is never parsed, so it never raises.
    """
    measurand = sampled.measurand or Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
    value_format = sampled.format or ValueFormat.RAW
    natural = _NATURAL[measurand]
    unit = sampled.unit or natural
    value = resolution = None
    if value_format is ValueFormat.RAW:
        offset, (numerator, denominator) = Decimal(0), (1, 1)
        if unit is not None:
            base, offset, (numerator, denominator) = _CONVERSIONS[unit]
            # A power factor is sometimes given in percent; it is the only unit a
            # dimensionless measurand may carry.
            if base is not natural and not (measurand is M.POWER_FACTOR and base is U.PERCENT):
                raise MeterValueError(
                    f"unit {unit.value} does not measure {measurand.value} "
                    f"(value {sampled.value!r})",
                    value=sampled.value,
                    unit=sampled.unit,
                )
            unit = base
        number = _parse(sampled.value, sampled.unit)
        with decimal.localcontext(_CONTEXT):
            value = (number + offset) * numerator / denominator
            resolution = _ONE.scaleb(_exponent(number)) * numerator / denominator
    return NormalisedValue(
        measurand=measurand,
        context=sampled.context or ReadingContext.SAMPLE_PERIODIC,
        location=sampled.location or Location.OUTLET,
        phase=sampled.phase,
        format=value_format,
        value=value,
        unit=unit,
        resolution=resolution,
        raw=sampled.value,
        declared_unit=sampled.unit,
    )


def _exponent(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    return exponent


# --- phases -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PhaseTotal:
    """One measurand at one location in one MeterValue: its total and its per-phase values.

    ``total`` is the value sent without a phase when there is one (``from_phases`` False);
    otherwise, for a measurand whose phases add up (energy, active and reactive power,
    Power.Offered, Current.Import/Export), the sum of one value per line L1, L2, L3
    (``from_phases`` True); otherwise None. ``phases`` lists every phased value, in the order
    of the Phase enumeration. ``resolution`` is the total's, summed over the lines it adds.
    """

    measurand: Measurand
    location: Location
    unit: UnitOfMeasure | None
    total: Decimal | None
    resolution: Decimal | None
    from_phases: bool
    phases: tuple[tuple[Phase, Decimal], ...]


_PHASE_ORDER = {phase: index for index, phase in enumerate(Phase)}


def _total(values: Sequence[NormalisedValue]) -> tuple[Decimal | None, Decimal | None, bool]:
    """(total, resolution, from_phases) of one measurand's Raw values at one location."""
    for item in values:
        if item.phase is None:
            return item.value, item.resolution, False
    if not values or values[0].measurand not in _ADDITIVE:
        return None, None, False
    by_phase: dict[Phase, NormalisedValue] = {}
    for item in values:
        assert item.phase is not None
        by_phase.setdefault(item.phase, item)
    total = resolution = Decimal(0)
    found = False
    with decimal.localcontext(_CONTEXT):
        for line in _LINES:
            chosen = by_phase.get(line[0]) or by_phase.get(line[1])
            if chosen is not None:
                assert chosen.value is not None
                assert chosen.resolution is not None
                total += chosen.value
                resolution += chosen.resolution
                found = True
    return (total, resolution, True) if found else (None, None, False)


def phase_totals(
    meter_value: MeterValue, *, contexts: Collection[ReadingContext] | None = None
) -> dict[tuple[Measurand, Location], PhaseTotal]:
    """Per (measurand, location), the total of one MeterValue's Raw values (§7.45).

    The rule: a value without a phase is the total. Without one, the lines L1, L2, L3 are
    summed for measurands whose phases add up; ``Lx`` and ``Lx-N`` are the same line (``Lx``
    is taken when both came), and N and the line-to-line phases (``L1-L2``…) are never added.
    Voltage, Frequency, Temperature, Power.Factor, SoC, RPM and Current.Offered get no total
    from phases. The first of two values for the same phase counts. ``contexts``, when given,
    keeps only the values sampled in those contexts. SignedData is left out.

    Raises :class:`MeterValueError` as :func:`normalise` does.
    """
    groups: dict[tuple[Measurand, Location], list[NormalisedValue]] = {}
    for sampled in meter_value.sampled_value:
        item = normalise(sampled)
        if item.signed or (contexts is not None and item.context not in contexts):
            continue
        groups.setdefault((item.measurand, item.location), []).append(item)
    out: dict[tuple[Measurand, Location], PhaseTotal] = {}
    for (measurand, location), values in groups.items():
        total, resolution, from_phases = _total(values)
        phased = sorted(
            ((v.phase, v.value) for v in values if v.phase is not None and v.value is not None),
            key=lambda pair: _PHASE_ORDER[pair[0]],
        )
        out[measurand, location] = PhaseTotal(
            measurand=measurand,
            location=location,
            unit=values[0].unit,
            total=total,
            resolution=resolution,
            from_phases=from_phases,
            phases=tuple(phased),
        )
    return out


# --- transaction energy -----------------------------------------------------------------------

ENERGY_CONTEXTS = frozenset(
    {
        ReadingContext.TRANSACTION_BEGIN,
        ReadingContext.TRANSACTION_END,
        ReadingContext.SAMPLE_PERIODIC,
        ReadingContext.SAMPLE_CLOCK,
        ReadingContext.TRIGGER,
    }
)
"""The contexts whose register readings :func:`transaction_energy` uses by default."""

# Where a register can roll over to 0, in Wh: a decimal display of 6 to 15 digits, or a 32-bit
# counter of Wh, 10 Wh, 100 Wh or kWh.
_ROLLOVER_LIMITS: list[int] = sorted(
    {10**k for k in range(6, 16)} | {2**32 * 10**k for k in range(4)}
)
_ROLLOVER_MARGIN = 100
"""A drop is a rollover only when the value before it is within 1/100 of a limit below it and
the value after it within 1/100 of that limit above 0."""


class ReadingOrigin(StrEnum):
    """Where a register reading came from."""

    METER_START = "meterStart"
    METER_VALUE = "meterValue"
    METER_STOP = "meterStop"


@attrs.frozen(kw_only=True)
class Reading:
    """One value of the Energy.Active.Import.Register, in Wh.

    ``resolution`` is one step of its last digit (1 Wh for meterStart and meterStop; 100 Wh for
    ``"12.3"`` kWh); ``from_phases`` tells that it is the sum of per-phase registers.
    """

    value: Decimal
    origin: ReadingOrigin
    timestamp: datetime | None = None
    context: ReadingContext | None = None
    resolution: Decimal = _ONE
    from_phases: bool = False


class AnomalyKind(StrEnum):
    """What :func:`transaction_energy` found that does not add up."""

    ROLLOVER = "rollover"
    """The register dropped from near a rollover limit to near 0; the energy across is counted."""
    RESET = "reset"
    """The register went down otherwise (meter replaced or reset, or a wrong meterStart); the
    energy across the drop is unknown and not counted (errata v4.0: registers only go up)."""
    METER_STOP_BELOW_READINGS = "meter_stop_below_readings"
    """meterStop is below the register's last reading; the readings are used instead."""
    INVALID_VALUE = "invalid_value"
    """A register value that cannot be read (not a decimal number, or not an energy unit)."""


@attrs.frozen(kw_only=True)
class EnergyAnomaly:
    """One anomaly, with the readings on either side of it.

    For a drop, ``before`` is the highest reading before it and ``after`` the reading that
    dropped; ``rollover_limit`` is the limit of a rollover, in Wh. For an invalid value,
    ``timestamp`` and ``raw`` say which one.
    """

    kind: AnomalyKind
    description: str
    before: Reading | None = None
    after: Reading | None = None
    rollover_limit: Decimal | None = None
    timestamp: datetime | None = None
    raw: str | None = None


class EnergySource(StrEnum):
    """Which end point :func:`transaction_energy` measured to."""

    METER_STOP = "meterStop"
    """From meterStart to meterStop (through the readings, which only matters on anomalies)."""
    READINGS = "readings"
    """From meterStart to the last register reading: meterStop was missing or below it."""
    METER_START_ONLY = "meterStartOnly"
    """No meterStop and no reading: nothing is known beyond meterStart, the energy is 0."""


@attrs.frozen(kw_only=True)
class EnergyResult:
    """A transaction's energy in Wh, how it was found, and what did not add up.

    ``start`` and ``end`` are the readings measured from and to; ``readings`` are the register
    readings from the meter values that were used, in time order (``first_reading`` and
    ``last_reading`` are their ends). ``energy_wh`` is never negative.
    """

    energy_wh: Decimal
    source: EnergySource
    start: Reading
    end: Reading
    readings: tuple[Reading, ...]
    anomalies: tuple[EnergyAnomaly, ...]

    @property
    def first_reading(self) -> Reading | None:
        return self.readings[0] if self.readings else None

    @property
    def last_reading(self) -> Reading | None:
        return self.readings[-1] if self.readings else None


def _rollover_limit(before: Decimal, after: Decimal) -> int | None:
    """The limit a register rolled over from ``before`` to ``after``, if the drop is one."""
    index = bisect.bisect_right(_ROLLOVER_LIMITS, before)
    if index == len(_ROLLOVER_LIMITS):
        return None
    limit = _ROLLOVER_LIMITS[index]
    margin = Decimal(limit) / _ROLLOVER_MARGIN
    if limit - before <= margin and 0 <= after < margin:
        return limit
    return None


class _Walk:
    """Energy along time-ordered readings, in segments split where the register was reset.

    Values after a rollover are shifted up by its limit, so a segment's energy is its last
    shifted value minus its first, never below 0. A drop below the highest reading so far that
    is smaller than the coarser resolution of the two is rounding, not an anomaly.
    """

    def __init__(self, start: Reading) -> None:
        self.top = start
        self.top_shifted = self.first = self.last = start.value
        self.offset = Decimal(0)
        self.energy = Decimal(0)
        self.anomalies: list[EnergyAnomaly] = []

    def drop(self, reading: Reading) -> tuple[bool, int | None]:
        """(whether ``reading`` is a real drop, and the limit when the drop is a rollover)."""
        shortfall = self.top_shifted - (reading.value + self.offset)
        if shortfall < max(self.top.resolution, reading.resolution):
            return False, None
        return True, _rollover_limit(self.top.value, reading.value)

    def feed(self, reading: Reading) -> None:
        dropped, limit = self.drop(reading)
        if dropped and limit is None:
            self.anomalies.append(
                EnergyAnomaly(
                    kind=AnomalyKind.RESET,
                    description=f"the register went down from {self.top.value} Wh to "
                    f"{reading.value} Wh (meter replaced or reset?); the energy across the drop "
                    "is not counted",
                    before=self.top,
                    after=reading,
                )
            )
            self.energy += self._segment()
            self.offset = Decimal(0)
            self.first = reading.value
        elif limit is not None:
            self.anomalies.append(
                EnergyAnomaly(
                    kind=AnomalyKind.ROLLOVER,
                    description=f"the register rolled over at {limit} Wh, from "
                    f"{self.top.value} Wh to {reading.value} Wh",
                    before=self.top,
                    after=reading,
                    rollover_limit=Decimal(limit),
                )
            )
            self.offset += limit
        shifted = reading.value + self.offset
        self.last = shifted
        if dropped or shifted > self.top_shifted:
            self.top, self.top_shifted = reading, shifted

    def _segment(self) -> Decimal:
        return max(Decimal(0), self.last - self.first)

    def total(self) -> Decimal:
        return self.energy + self._segment()


_CONTEXT_ORDER = {context: index for index, context in enumerate(ReadingContext)}


def _register_readings(
    meter_value: MeterValue,
    location: Location,
    contexts: Collection[ReadingContext],
    anomalies: list[EnergyAnomaly],
) -> list[Reading]:
    """The Energy.Active.Import.Register readings of one MeterValue, per context."""
    groups: dict[ReadingContext, list[NormalisedValue]] = {}
    for sampled in meter_value.sampled_value:
        if (
            (sampled.measurand or M.ENERGY_ACTIVE_IMPORT_REGISTER)
            is not M.ENERGY_ACTIVE_IMPORT_REGISTER
            or sampled.format is ValueFormat.SIGNED_DATA
            or (sampled.location or Location.OUTLET) is not location
            or (sampled.context or ReadingContext.SAMPLE_PERIODIC) not in contexts
        ):
            continue
        try:
            item = normalise(sampled)
        except MeterValueError as error:
            anomalies.append(
                EnergyAnomaly(
                    kind=AnomalyKind.INVALID_VALUE,
                    description=f"{error}; left out",
                    timestamp=meter_value.timestamp,
                    raw=sampled.value,
                )
            )
            continue
        groups.setdefault(item.context, []).append(item)
    out: list[Reading] = []
    for context, items in groups.items():
        totals = [(i.value, i.resolution, False) for i in items if i.phase is None]
        for value, resolution, from_phases in totals or [_total(items)]:
            if value is not None and resolution is not None:
                out.append(
                    Reading(
                        value=value,
                        origin=ReadingOrigin.METER_VALUE,
                        timestamp=meter_value.timestamp,
                        context=context,
                        resolution=resolution,
                        from_phases=from_phases,
                    )
                )
    return out


def _reading_key(reading: Reading) -> tuple[datetime | None, Decimal, int, Decimal, bool]:
    context = -1 if reading.context is None else _CONTEXT_ORDER[reading.context]
    return reading.timestamp, reading.value, context, reading.resolution, reading.from_phases


def transaction_energy(
    meter_start: int,
    meter_stop: int | None,
    meter_values: Iterable[MeterValue],
    *,
    started_at: datetime | None = None,
    stopped_at: datetime | None = None,
    location: Location = Location.OUTLET,
    contexts: Collection[ReadingContext] = ENERGY_CONTEXTS,
) -> EnergyResult:
    """The energy of one transaction in Wh, from meterStart, meterStop and its meter values.

    ``meter_values`` are the transaction's MeterValues (MeterValues.req and StopTransaction's
    ``transactionData``) in any order. Only Raw Energy.Active.Import.Register values at
    ``location`` in ``contexts`` count: the value without a phase, else the sum of the lines
    (:func:`phase_totals`). They are sorted by time, between meterStart first and meterStop
    last; ``started_at`` and ``stopped_at`` only label those two.

    Registers only go up (errata v4.0), so a drop is an anomaly, never negative energy: a
    rollover (from within 1/100 below a limit of 10^6…10^15 Wh or 2^32 × 1, 10, 100 or 1000 Wh
    to within 1/100 of that limit above 0) counts the energy across it; any other drop (a meter
    replaced or reset) starts again from the lower value and leaves the energy across it out.
    A drop smaller than the coarser resolution of the two readings is rounding. meterStop below
    the readings (other than by a rollover) is left out and the last reading is the end.
    Values that cannot be read are reported and left out. ``docs/meter-values.md`` has the rules.
    """
    anomalies: list[EnergyAnomaly] = []
    found: list[Reading] = []
    wanted = frozenset(contexts)
    for meter_value in meter_values:
        found.extend(_register_readings(meter_value, location, wanted, anomalies))
    found.sort(key=_reading_key)
    readings = [r for i, r in enumerate(found) if i == 0 or found[i - 1] != r]
    anomalies.sort(key=lambda a: (a.timestamp, a.raw))
    start = Reading(
        value=Decimal(meter_start), origin=ReadingOrigin.METER_START, timestamp=started_at
    )
    with decimal.localcontext(_CONTEXT):
        walk = _Walk(start)
        for reading in readings:
            walk.feed(reading)
        end = readings[-1] if readings else start
        source = EnergySource.READINGS if readings else EnergySource.METER_START_ONLY
        if meter_stop is not None:
            stop = Reading(
                value=Decimal(meter_stop), origin=ReadingOrigin.METER_STOP, timestamp=stopped_at
            )
            dropped, limit = walk.drop(stop)
            if dropped and limit is None and readings:
                walk.anomalies.append(
                    EnergyAnomaly(
                        kind=AnomalyKind.METER_STOP_BELOW_READINGS,
                        description=f"meterStop {meter_stop} Wh is below the register reading "
                        f"of {walk.top.value} Wh; measured to the last reading instead",
                        before=walk.top,
                        after=stop,
                    )
                )
            else:
                walk.feed(stop)
                end, source = stop, EnergySource.METER_STOP
        energy = walk.total()
    return EnergyResult(
        energy_wh=energy,
        source=source,
        start=start,
        end=end,
        readings=tuple(readings),
        anomalies=(*anomalies, *walk.anomalies),
    )
