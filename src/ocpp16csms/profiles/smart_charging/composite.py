"""Smart Charging's pure part: composite schedules and profile checks (OCPP 1.6 §3.13, §5.7, §5.16).

:func:`composite_schedule` predicts the schedule a charge point follows, from the profiles the
host knows it has installed; :func:`validate_charging_profile` and
:func:`validate_remote_start_profile` refuse a profile before it is sent. No I/O, no clock, no
store. The choices the specification leaves open are written out in ``docs/smart-charging.md``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

import attrs

from ...datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ...enums import ChargingProfileKindType as Kind
from ...enums import ChargingProfilePurposeType as Purpose
from ...enums import ChargingRateUnitType as Unit
from ...enums import GetCompositeScheduleStatus, RecurrencyKindType
from ...errors import InvalidRequest
from ...messages.smart_charging import GetCompositeScheduleResponse
from ._steps import (
    Piece,
    S,
    Step,
    add,
    combine,
    minimum_on_fewest_phases,
    overlay,
    stack,
    whole_seconds,
)

__all__ = [
    "ChargePointLimits",
    "ChargingProfileError",
    "CompositeOptions",
    "InstalledProfile",
    "TransactionInfo",
    "composite_schedule",
    "composite_schedule_response",
    "validate_charging_profile",
    "validate_remote_start_profile",
]


def _aware(_: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime, got {value!r}")


@attrs.frozen(kw_only=True)
class InstalledProfile:
    """A charging profile as installed on a connector; connector 0 is the charge point (§5.16)."""

    connector_id: int = attrs.field(validator=attrs.validators.ge(0))
    profile: ChargingProfile


@attrs.frozen(kw_only=True)
class TransactionInfo:
    """The transaction running on a connector; ``transaction_id`` is None until it is known."""

    transaction_id: int | None = None
    start: datetime = attrs.field(validator=_aware)


def _gap_limits(
    value: Mapping[Unit, float] | None,
) -> Mapping[Unit, float] | None:
    # A private read-only copy: the options are frozen, so the caller's dict must not leak in.
    return None if value is None else MappingProxyType(dict(value))


def _check_gap_limits(
    _: object,
    attribute: attrs.Attribute[Mapping[Unit, float] | None],
    value: Mapping[Unit, float] | None,
) -> None:
    # A negative limit is no limit a charge point could follow (§7.14: limit >= 0).
    for unit, limit in (value or {}).items():
        if not isinstance(unit, Unit):
            raise ValueError(f"{attribute.name} keys must be ChargingRateUnitType, got {unit!r}")
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            raise ValueError(f"{attribute.name}[{unit}] must be a number, got {limit!r}")
        if not math.isfinite(limit) or limit < 0:
            raise ValueError(
                f"{attribute.name}[{unit}] must be a finite limit >= 0 (§7.14), got {limit!r}"
            )


@attrs.frozen(kw_only=True)
class CompositeOptions:
    """How the charge point being modelled fills in what §3.13 leaves open.

    ``nominal_voltage`` and ``default_number_phases`` convert between A and W (errata 3.69);
    ``gap_limit`` is the limit (>= 0), per unit, where no profile applies (None: leave the gap);
    ``tx_profiles_without_transaction``: TxDefaultProfiles count on an idle connector;
    ``tx_default_fills_tx_profile_gaps``: TxDefault applies where no TxProfile is in force;
    ``connector_tx_default_replaces_all``: a connector's own TxDefaultProfiles hide all of
    connector 0's, not only those at the same stack level; ``recurring_before_start_schedule``:
    a Recurring profile also runs before its first occurrence; ``fallback_unit``: the result's
    unit when none is asked and the profiles disagree. ``docs/smart-charging.md`` gives the
    reasons for the defaults.
    """

    nominal_voltage: float = attrs.field(default=230.0, validator=attrs.validators.gt(0))
    default_number_phases: int = attrs.field(
        default=3, validator=[attrs.validators.ge(1), attrs.validators.le(3)]
    )
    gap_limit: Mapping[Unit, float] | None = attrs.field(
        default=None, converter=_gap_limits, validator=_check_gap_limits, hash=False
    )
    tx_profiles_without_transaction: bool = True
    tx_default_fills_tx_profile_gaps: bool = True
    connector_tx_default_replaces_all: bool = False
    recurring_before_start_schedule: bool = False
    fallback_unit: Unit = Unit.A


# ---------------------------------------------------------------------------------------------
# Composite schedule (§3.13.2, §3.13.3, §5.7)
#
# Times are integer microseconds from ``start``: datetimes carry microseconds, and exact integer
# arithmetic keeps boundaries of different profiles from drifting apart. Limits are converted
# to the result's unit as soon as a profile is read; only the final result is cut to whole
# seconds. The step arithmetic lives in ``_schedule_steps``.
# ---------------------------------------------------------------------------------------------

_ONE_US = timedelta(microseconds=1)
_FOREVER = 1 << 62
_RECURRENCE = {RecurrencyKindType.DAILY: 86_400 * S, RecurrencyKindType.WEEKLY: 7 * 86_400 * S}


def _us(delta: timedelta) -> int:
    return delta // _ONE_US


def _convert(
    limit: float, unit: Unit, phases: int | None, to: Unit, options: CompositeOptions
) -> float:
    """Convert a limit between A (per phase) and W (total) as errata 3.69 to §7.12 says."""
    if unit is to:
        return limit
    factor = options.nominal_voltage * (phases or options.default_number_phases)
    return limit * factor if to is Unit.W else limit / factor


def _pieces(
    profile: ChargingProfile,
    *,
    specificity: int,
    start: datetime,
    relative_start: datetime,
    window: int,
    unit: Unit,
    options: CompositeOptions,
    out: list[Piece],
) -> None:
    """Append the stretches of the window where ``profile`` is in force, one per period."""
    schedule = profile.charging_schedule
    lo, hi = 0, window
    if profile.valid_from is not None:
        lo = max(lo, _us(profile.valid_from - start))
    if profile.valid_to is not None:
        hi = min(hi, _us(profile.valid_to - start))
    if lo >= hi:
        return
    kind = profile.charging_profile_kind
    # §7.13: without startSchedule a schedule is relative to the start of charging.
    anchor_time = schedule.start_schedule
    if kind is Kind.RELATIVE or anchor_time is None:
        anchor_time = relative_start
    anchor = _us(anchor_time - start)
    length = _FOREVER if schedule.duration is None else schedule.duration * S
    periods = sorted(schedule.charging_schedule_period, key=lambda p: p.start_period)
    offsets = [p.start_period * S for p in periods] + [_FOREVER]
    keys = [
        (
            -profile.stack_level,
            -specificity,
            _convert(p.limit, schedule.charging_rate_unit, p.number_phases, unit, options),
            -1 if p.number_phases is None else p.number_phases,
            p.number_phases,
        )
        for p in periods
    ]
    every = None
    if kind is Kind.RECURRING and profile.recurrency_kind is not None:
        every = _RECURRENCE[profile.recurrency_kind]
    if every is None:
        occurrences: Iterable[tuple[int, int]] = ((anchor, anchor + length),)
    else:
        first = (lo - anchor) // every
        if not options.recurring_before_start_schedule:
            first = max(first, 0)
        last = (hi - 1 - anchor) // every
        # Errata 3.44: what a schedule holds beyond its recurrence period is never executed.
        occurrences = (
            (anchor + k * every, anchor + k * every + min(length, every))
            for k in range(first, last + 1)
        )
    for begin, end in occurrences:
        end = min(end, hi)
        for i, key in enumerate(keys):
            p0 = begin + offsets[i]
            if p0 >= end:
                break
            p1 = min(begin + offsets[i + 1], end)
            p0 = max(p0, lo)
            if p0 < p1:
                rank, spec, limit, order, phases = key
                out.append((p0, p1, (rank, spec, limit, order, p1, phases)))


def _transaction_profiles(
    installed: tuple[InstalledProfile, ...],
    connector_id: int,
    transaction: TransactionInfo | None,
    options: CompositeOptions,
) -> tuple[list[ChargingProfile], list[tuple[ChargingProfile, int]]]:
    """The TxProfiles, and the TxDefaultProfiles with their specificity, for one connector."""
    tx: list[ChargingProfile] = []
    own: list[tuple[ChargingProfile, int]] = []
    station: list[tuple[ChargingProfile, int]] = []
    for item in installed:
        profile = item.profile
        purpose = profile.charging_profile_purpose
        if purpose is Purpose.TX_PROFILE:
            if item.connector_id != connector_id or transaction is None:
                continue
            wanted = profile.transaction_id
            # An unknown running transaction id cannot contradict the profile's, and the charge
            # point only accepts a TxProfile for the transaction it is running (§3.13.1).
            if wanted is None or transaction.transaction_id in (None, wanted):
                tx.append(profile)
        elif purpose is Purpose.TX_DEFAULT_PROFILE:
            if transaction is None and not options.tx_profiles_without_transaction:
                continue
            if item.connector_id == connector_id:
                own.append((profile, 1))
            elif item.connector_id == 0:
                station.append((profile, 0))
    if own and options.connector_tx_default_replaces_all:
        station = []
    return tx, own + station


def composite_schedule(
    profiles: Iterable[InstalledProfile],
    *,
    connector_id: int,
    start: datetime,
    duration: int,
    charging_rate_unit: Unit | None = None,
    transactions: Mapping[int, TransactionInfo] | None = None,
    connector_ids: Iterable[int] | None = None,
    options: CompositeOptions = CompositeOptions(),
) -> ChargingSchedule | None:
    """The schedule ``connector_id`` follows from ``start`` for ``duration`` s (§3.13.3, §5.7).

    For connector 0 it is the charge point's total: the connectors' schedules summed, capped
    by the ChargePointMaxProfile. Returns None when no profile limits any instant of the
    window and ``options.gap_limit`` is unset; otherwise a schedule whose ``start_schedule``
    and ``duration`` frame the covered stretch (see ``docs/smart-charging.md``, "Gaps").
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start must be a timezone-aware datetime, got {start!r}")
    if duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration}")
    if connector_id < 0:
        raise ValueError(f"connector_id must be >= 0, got {connector_id}")
    installed = tuple(profiles)
    running = dict(transactions or {})
    if connector_id > 0:
        ids = [connector_id]
    elif connector_ids is not None:
        ids = sorted({c for c in connector_ids if c > 0})
    else:
        ids = sorted(
            {p.connector_id for p in installed if p.connector_id > 0}
            | {c for c in running if c > 0}
        )
    selected = {c: _transaction_profiles(installed, c, running.get(c), options) for c in ids}
    cp_max = [
        p.profile
        for p in installed
        if p.connector_id == 0
        and p.profile.charging_profile_purpose is Purpose.CHARGE_POINT_MAX_PROFILE
    ]
    unit = charging_rate_unit or _unit_of(selected, cp_max, options)
    window = duration * S

    gap: list[Step] = []
    if options.gap_limit:
        gap_value = _gap_value(options.gap_limit, unit, options)
        gap = [(0, window, gap_value, None)]

    def steps(
        chosen: Iterable[tuple[ChargingProfile, int]], relative_start: datetime
    ) -> list[Step]:
        pieces: list[Piece] = []
        for profile, specificity in chosen:
            _pieces(
                profile,
                specificity=specificity,
                start=start,
                relative_start=relative_start,
                window=window,
                unit=unit,
                options=options,
                out=pieces,
            )
        return stack(pieces)

    total: list[Step] | None = None
    for c in ids:
        tx_profiles, defaults = selected[c]
        transaction = running.get(c)
        relative_start = start if transaction is None else transaction.start
        level = steps(((p, 0) for p in tx_profiles), relative_start)
        if options.tx_default_fills_tx_profile_gaps or not tx_profiles:
            # §3.13.1: a TxProfile overrules the TxDefaultProfile where it is in force.
            level = combine(level, steps(defaults, relative_start), overlay)
        if connector_id == 0 and gap:
            level = combine(level, gap, overlay)
        total = level if total is None else combine(total, level, add)
    # ChargePointMaxProfile cannot be Relative (§5.16); should one be installed, it counts
    # from the start of the window. Limits on different phase counts meet on the fewer phases,
    # so that the cap is the same physical limit whichever unit was asked.
    lower = minimum_on_fewest_phases(
        in_watts=unit is Unit.W, default_phases=options.default_number_phases
    )
    result = combine(total or [], steps(((p, 0) for p in cp_max), start), lower)
    if gap:
        result = combine(result, gap, overlay)
    return _schedule(whole_seconds(result, lower), start=start, unit=unit)


def _unit_of(
    selected: Mapping[int, tuple[list[ChargingProfile], list[tuple[ChargingProfile, int]]]],
    cp_max: list[ChargingProfile],
    options: CompositeOptions,
) -> Unit:
    units = {p.charging_schedule.charging_rate_unit for p in cp_max}
    for tx, defaults in selected.values():
        units.update(p.charging_schedule.charging_rate_unit for p in tx)
        units.update(p.charging_schedule.charging_rate_unit for p, _ in defaults)
    return units.pop() if len(units) == 1 else options.fallback_unit


def _gap_value(gap_limit: Mapping[Unit, float], unit: Unit, options: CompositeOptions) -> float:
    if unit in gap_limit:
        return gap_limit[unit]
    other, limit = next(iter(gap_limit.items()))
    return _convert(limit, other, None, unit, options)


def _schedule(steps: list[Step], *, start: datetime, unit: Unit) -> ChargingSchedule | None:
    """Frame the first covered stretch; outside its span a ChargingSchedule limits nothing."""
    if not steps:
        return None
    first = steps[0][0]
    periods = []
    end = first
    for t0, t1, limit, phases in steps:
        if t0 != end:
            break
        periods.append(
            ChargingSchedulePeriod(start_period=t0 - first, limit=limit, number_phases=phases)
        )
        end = t1
    return ChargingSchedule(
        charging_rate_unit=unit,
        charging_schedule_period=tuple(periods),
        duration=end - first,
        start_schedule=start + timedelta(seconds=first),
    )


def composite_schedule_response(
    schedule: ChargingSchedule | None,
    *,
    connector_id: int,
    start_schedule_inside: bool = False,
) -> GetCompositeScheduleResponse:
    """The GetCompositeSchedule.conf (§6.22) that reports ``schedule`` for ``connector_id``.

    A schedule gives Accepted, with ``schedule_start`` set to its ``start_schedule``: its periods
    count from there. Errata 3.57 asks for ``startSchedule`` to be left out of the schedule
    itself, and it is, unless ``start_schedule_inside`` is True. None (nothing limits the window,
    see :func:`composite_schedule`) gives Rejected with neither field, as §6.22 allows.
    """
    if connector_id < 0:
        raise ValueError(f"connector_id must be >= 0, got {connector_id}")
    if schedule is None:
        return GetCompositeScheduleResponse(status=GetCompositeScheduleStatus.REJECTED)
    if schedule.start_schedule is None:
        raise ValueError(
            "the schedule has no start_schedule, so scheduleStart cannot be given; "
            "pass the result of composite_schedule"
        )
    inside = schedule
    if not start_schedule_inside:
        inside = ChargingSchedule(
            charging_rate_unit=schedule.charging_rate_unit,
            charging_schedule_period=schedule.charging_schedule_period,
            duration=schedule.duration,
            min_charging_rate=schedule.min_charging_rate,
        )
    return GetCompositeScheduleResponse(
        status=GetCompositeScheduleStatus.ACCEPTED,
        connector_id=connector_id,
        schedule_start=schedule.start_schedule,
        charging_schedule=inside,
    )


# ---------------------------------------------------------------------------------------------
# Validation before sending (§3.13, §5.11, §5.16, §7.8, §7.13, §9.4)
# ---------------------------------------------------------------------------------------------


class ChargingProfileError(InvalidRequest):
    """A charging profile breaks a rule of §3.13 / §5.16; ``rule`` names which one."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"[{rule}] {message}")
        self.rule = rule


def _unit_set(value: Iterable[Unit] | None) -> frozenset[Unit] | None:
    return None if value is None else frozenset(value)


_UNIT_NAMES = {"current": Unit.A, "a": Unit.A, "power": Unit.W, "w": Unit.W}


def _config_int(config: Mapping[str, str], key: str) -> int | None:
    raw = config.get(key.casefold())
    try:
        return None if raw is None else int(raw.strip())
    except ValueError:
        return None


@attrs.frozen(kw_only=True)
class ChargePointLimits:
    """What a charge point reports it can hold (§9.4); None means not known.

    ``installed_count`` is the number of installed profiles the new one will not replace.
    """

    max_stack_level: int | None = None
    max_periods: int | None = None
    max_installed: int | None = None
    installed_count: int | None = None
    allowed_units: frozenset[Unit] | None = attrs.field(default=None, converter=_unit_set)

    @classmethod
    def from_configuration(
        cls, config: Mapping[str, str], *, installed_count: int | None = None
    ) -> ChargePointLimits:
        """Read the Smart Charging keys (§9.4) from GetConfiguration's reported values.

        Keys match case-insensitively (they are CiString50). A value that does not parse is
        treated as not reported rather than refused: it comes from the charge point.
        """
        folded = {key.casefold(): value for key, value in config.items()}
        units: frozenset[Unit] | None = None
        raw_units = folded.get("chargingscheduleallowedchargingrateunit")
        if raw_units is not None:
            names = (name.strip().casefold() for name in raw_units.split(","))
            units = frozenset(_UNIT_NAMES[n] for n in names if n in _UNIT_NAMES) or None
        return cls(
            max_stack_level=_config_int(folded, "ChargeProfileMaxStackLevel"),
            max_periods=_config_int(folded, "ChargingScheduleMaxPeriods"),
            max_installed=_config_int(folded, "MaxChargingProfilesInstalled"),
            installed_count=installed_count,
            allowed_units=units,
        )


def _check_schedule(profile: ChargingProfile, limits: ChargePointLimits | None) -> None:
    """The rules on a profile that do not depend on where it goes (§5.16, §7.8, §7.13)."""
    kind = profile.charging_profile_kind
    schedule = profile.charging_schedule
    periods = schedule.charging_schedule_period
    if profile.transaction_id is not None and (
        profile.charging_profile_purpose is not Purpose.TX_PROFILE
    ):
        raise ChargingProfileError(
            "transaction_id_purpose",
            f"transaction_id is only valid on a TxProfile (§7.8), not on a "
            f"{profile.charging_profile_purpose}",
        )
    if kind in (Kind.ABSOLUTE, Kind.RECURRING) and schedule.start_schedule is None:
        raise ChargingProfileError(
            "start_schedule", f"an {kind} profile needs charging_schedule.start_schedule (§7.13)"
        )
    if (kind is Kind.RECURRING) != (profile.recurrency_kind is not None):
        raise ChargingProfileError(
            "recurrency_kind",
            "recurrency_kind is required for a Recurring profile and only allowed there "
            f"(§7.8); kind is {kind}, recurrency_kind is {profile.recurrency_kind}",
        )
    if periods[0].start_period != 0:
        raise ChargingProfileError(
            "first_start_period",
            f"the first period must have start_period 0 (§7.13), not {periods[0].start_period}",
        )
    for before, after in itertools.pairwise(periods):
        if after.start_period <= before.start_period:
            raise ChargingProfileError(
                "start_period_order",
                "start_period must strictly increase from one period to the next (§7.13): "
                f"{after.start_period} follows {before.start_period}",
            )
    for period in periods:
        if period.limit < 0:
            raise ChargingProfileError(
                "limit", f"a period's limit must be >= 0 (§7.14), got {period.limit}"
            )
        if period.number_phases is not None and not 1 <= period.number_phases <= 3:
            raise ChargingProfileError(
                "number_phases",
                f"number_phases must be 1, 2 or 3 (§7.14), got {period.number_phases}",
            )
    if schedule.min_charging_rate is not None and schedule.min_charging_rate < 0:
        raise ChargingProfileError(
            "min_charging_rate",
            f"min_charging_rate must be >= 0 (§7.13), got {schedule.min_charging_rate}",
        )
    if schedule.duration is not None and schedule.duration <= 0:
        raise ChargingProfileError(
            "duration", f"duration must be a positive number of seconds, got {schedule.duration}"
        )
    if (
        profile.valid_from is not None
        and profile.valid_to is not None
        and profile.valid_from >= profile.valid_to
    ):
        raise ChargingProfileError(
            "valid_period",
            f"valid_from ({profile.valid_from.isoformat()}) must be before valid_to "
            f"({profile.valid_to.isoformat()}) (§7.8)",
        )
    if limits is not None:
        _check_limits(profile, limits)


def _check_limits(profile: ChargingProfile, limits: ChargePointLimits) -> None:
    """The charge point's reported capabilities (§9.4)."""
    schedule = profile.charging_schedule
    if limits.max_stack_level is not None and profile.stack_level > limits.max_stack_level:
        raise ChargingProfileError(
            "max_stack_level",
            f"stack_level {profile.stack_level} exceeds the charge point's "
            f"ChargeProfileMaxStackLevel {limits.max_stack_level}",
        )
    count = len(schedule.charging_schedule_period)
    if limits.max_periods is not None and count > limits.max_periods:
        raise ChargingProfileError(
            "max_periods",
            f"{count} periods exceed the charge point's ChargingScheduleMaxPeriods "
            f"{limits.max_periods}",
        )
    if (
        limits.max_installed is not None
        and limits.installed_count is not None
        and limits.installed_count >= limits.max_installed
    ):
        raise ChargingProfileError(
            "max_installed",
            f"the charge point already holds {limits.installed_count} profiles, its "
            f"MaxChargingProfilesInstalled is {limits.max_installed}",
        )
    if limits.allowed_units is not None and schedule.charging_rate_unit not in limits.allowed_units:
        allowed = ", ".join(sorted(limits.allowed_units))
        raise ChargingProfileError(
            "allowed_units",
            f"unit {schedule.charging_rate_unit} is not in the charge point's "
            f"ChargingScheduleAllowedChargingRateUnit ({allowed})",
        )


def validate_charging_profile(
    profile: ChargingProfile,
    *,
    connector_id: int,
    active_transaction_ids: Mapping[int, int] | None = None,
    limits: ChargePointLimits | None = None,
) -> None:
    """Raise :class:`ChargingProfileError` unless SetChargingProfile may carry it (§5.16).

    ``active_transaction_ids`` maps each connector with a running transaction to its id; when
    given, a TxProfile must go to such a connector and name that transaction, if any.
    """
    purpose = profile.charging_profile_purpose
    if connector_id < 0:
        raise ChargingProfileError("connector_id", f"connector_id must be >= 0, got {connector_id}")
    if purpose is Purpose.CHARGE_POINT_MAX_PROFILE:
        if connector_id != 0:
            raise ChargingProfileError(
                "charge_point_max_connector",
                f"a ChargePointMaxProfile can only be set on connector 0 (§3.13.1), "
                f"not {connector_id}",
            )
        if profile.charging_profile_kind is Kind.RELATIVE:
            raise ChargingProfileError(
                "charge_point_max_kind", "a ChargePointMaxProfile cannot be Relative (§5.16)"
            )
    elif purpose is Purpose.TX_PROFILE:
        if connector_id == 0:
            raise ChargingProfileError(
                "tx_profile_connector", "a TxProfile can only be set on a connector > 0 (§3.13.1)"
            )
        if active_transaction_ids is not None:
            running = active_transaction_ids.get(connector_id)
            if running is None:
                raise ChargingProfileError(
                    "tx_profile_transaction",
                    f"no transaction is running on connector {connector_id}; the charge point "
                    "discards a TxProfile then (§3.13.1)",
                )
            if profile.transaction_id is not None and profile.transaction_id != running:
                raise ChargingProfileError(
                    "tx_profile_transaction_id",
                    f"transaction_id {profile.transaction_id} is not the transaction running "
                    f"on connector {connector_id} ({running})",
                )
    _check_schedule(profile, limits)


def validate_remote_start_profile(
    profile: ChargingProfile, *, limits: ChargePointLimits | None = None
) -> None:
    """Raise :class:`ChargingProfileError` unless RemoteStartTransaction may carry it (§5.11)."""
    if profile.charging_profile_purpose is not Purpose.TX_PROFILE:
        raise ChargingProfileError(
            "remote_start_purpose",
            "the profile of a RemoteStartTransaction must be a TxProfile (§5.11), not a "
            f"{profile.charging_profile_purpose}",
        )
    if profile.transaction_id is not None:
        raise ChargingProfileError(
            "remote_start_transaction_id",
            "the profile of a RemoteStartTransaction must not set transaction_id: the "
            "transaction does not exist yet (§5.11, errata 3.41)",
        )
    _check_schedule(profile, limits)
