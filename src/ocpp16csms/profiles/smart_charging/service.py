"""Smart Charging operations (OCPP 1.6 §3.13, §5.5, §5.7, §5.16).

:class:`SmartChargingOperations` sends SetChargingProfile, ClearChargingProfile and
GetCompositeSchedule, and keeps the charging profile store in step with the answers, so that
:meth:`~SmartChargingOperations.expected_composite_schedule` can predict with the pure engine
(:mod:`ocpp16csms.profiles.smart_charging.composite`) what a charge point should report, and
:func:`compare_composite_schedules` can say where it reports something else. The choices are
written out in ``docs/smart-charging.md``, "Operations and the profile store".
"""

from __future__ import annotations

import bisect
import itertools
import math
from datetime import datetime, timedelta

import attrs

from ..._logging import get_logger
from ...checks import build_request, check_connector, number_of_connectors
from ...datatypes import ChargingProfile, ChargingSchedule
from ...engine import CallContext, Engine
from ...enums import (
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearChargingProfileStatus,
)
from ...errors import InvalidRequest
from ...messages import (
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
    StopTransactionRequest,
    StopTransactionResponse,
)
from ...messages.core import RemoteStartTransactionRequest
from ...stores.records import ConfigurationStore, StoreError, TransactionRecord, TransactionStore
from .composite import (
    ChargePointLimits,
    CompositeOptions,
    InstalledProfile,
    TransactionInfo,
    composite_schedule,
    validate_charging_profile,
    validate_remote_start_profile,
)
from .store import (
    ChargingProfileStore,
    InstalledChargingProfile,
    clear_matches,
    replaces,
)

__all__ = ["ScheduleDifference", "SmartChargingService", "compare_composite_schedules"]

log = get_logger("ocpp16csms.smart_charging")


class SmartChargingService:
    """Smart Charging (``central_system.smart_charging``): Set/Clear/GetCompositeSchedule, the
    charging profile store kept in step with the answers, and the expected schedule.

    It also checks the TxProfile of every RemoteStartTransaction before it is sent (§5.11).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        profiles: ChargingProfileStore | None,
        transactions: TransactionStore,
        configuration: ConfigurationStore,
    ) -> None:
        self._engine = engine
        self._profiles = profiles
        self._transactions = transactions
        self._configuration = configuration
        engine.add_answer_hook(StopTransactionRequest, self._drop_stopped_tx_profiles)
        engine.add_pre_send_check(RemoteStartTransactionRequest, self._check_remote_start)

    def _profile_store(self) -> ChargingProfileStore:
        if self._profiles is None:
            raise StoreError("this central system was built without a charging_profiles store")
        return self._profiles

    async def _check_remote_start(
        self, charge_point_id: str, request: RemoteStartTransactionRequest
    ) -> None:
        if request.charging_profile is not None:
            limits = await self.charge_point_limits(charge_point_id)
            validate_remote_start_profile(request.charging_profile, limits=limits)

    async def _running(self, charge_point_id: str) -> dict[int, TransactionRecord]:
        """The transaction running on each connector; the latest started if the store has two."""
        running: dict[int, TransactionRecord] = {}
        for record in await self._transactions.active(charge_point_id=charge_point_id):
            known = running.get(record.start.connector_id)
            if known is None or known.start.timestamp < record.start.timestamp:
                running[record.start.connector_id] = record
        return running

    async def charge_point_limits(
        self, charge_point_id: str, *, installed_count: int | None = None
    ) -> ChargePointLimits:
        """The Smart Charging keys (§9.4) of the configuration store, as validation reads them."""
        config = await self._configuration.get(charge_point_id)
        values = {key: entry.value for key, entry in config.items() if entry.value is not None}
        return ChargePointLimits.from_configuration(values, installed_count=installed_count)

    # -- SetChargingProfile -----------------------------------------------------------------

    async def set_charging_profile(
        self, charge_point_id: str, connector_id: int, profile: ChargingProfile
    ) -> SetChargingProfileResponse:
        """§5.16: install a profile on a connector (0: the charge point); stored on Accepted.

        Raises :class:`~.composite.ChargingProfileError` (nothing sent) when the profile breaks
        a rule, checked against the running transactions of the transaction store and the
        §9.4 keys of the configuration store; :class:`InvalidRequest` for a connector the
        charge point does not have; ``StoreError`` without a profile store.
        """
        await check_connector(self._configuration, charge_point_id, connector_id, allow_zero=True)
        store = self._profile_store()
        new = InstalledChargingProfile(
            charge_point_id=charge_point_id, connector_id=connector_id, profile=profile
        )
        kept = [old for old in await store.installed(charge_point_id) if not replaces(new, old)]
        running = await self._running(charge_point_id)
        validate_charging_profile(
            profile,
            connector_id=connector_id,
            active_transaction_ids={c: r.transaction_id for c, r in running.items()},
            limits=await self.charge_point_limits(charge_point_id, installed_count=len(kept)),
        )
        request = build_request(
            SetChargingProfileRequest, connector_id=connector_id, cs_charging_profiles=profile
        )
        response = await self._engine.call(charge_point_id, request)
        if response.status is ChargingProfileStatus.ACCEPTED:
            await store.install(new)
        return response

    # -- ClearChargingProfile ---------------------------------------------------------------

    async def clear_charging_profile(
        self,
        charge_point_id: str,
        *,
        charging_profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: ChargingProfilePurposeType | None = None,
        stack_level: int | None = None,
    ) -> ClearChargingProfileResponse:
        """§5.5: clear profiles; on Accepted the store drops what the charge point dropped.

        ``charging_profile_id`` is the request's ``id``. With it, only that profile is
        cleared and the other criteria do not widen the choice; without it, the given
        criteria combine with AND, and none clears every profile (see
        :func:`~ocpp16csms.profiles.smart_charging.store.clear_matches`).
        """
        await check_connector(self._configuration, charge_point_id, connector_id, allow_zero=True)
        store = self._profile_store()
        request = build_request(
            ClearChargingProfileRequest,
            id=charging_profile_id,
            connector_id=connector_id,
            charging_profile_purpose=purpose,
            stack_level=stack_level,
        )
        response = await self._engine.call(charge_point_id, request)

        def matches(item: InstalledChargingProfile) -> bool:
            return clear_matches(
                item,
                charging_profile_id=charging_profile_id,
                connector_id=connector_id,
                purpose=purpose,
                stack_level=stack_level,
            )

        if response.status is ClearChargingProfileStatus.ACCEPTED:
            removed = await store.clear(
                charge_point_id,
                charging_profile_id=charging_profile_id,
                connector_id=connector_id,
                purpose=purpose,
                stack_level=stack_level,
            )
            if not removed:
                log.info(
                    "[%s] ClearChargingProfile accepted, but the store held no matching profile",
                    charge_point_id,
                )
        elif any(matches(i) for i in await store.installed(charge_point_id)):
            # Unknown: the charge point holds none of them, so the store is out of step. It is
            # left alone (the answer removed nothing); docs/smart-charging.md says how to resync.
            log.warning(
                "[%s] ClearChargingProfile answered %s, but the store holds matching profiles",
                charge_point_id,
                response.status,
            )
        return response

    # -- composite schedules ----------------------------------------------------------------

    async def get_composite_schedule(
        self,
        charge_point_id: str,
        connector_id: int,
        duration: int,
        charging_rate_unit: ChargingRateUnitType | None = None,
    ) -> GetCompositeScheduleResponse:
        """§5.7: ask the charge point for the schedule of a connector (0: its total)."""
        _check_duration(duration)
        await check_connector(self._configuration, charge_point_id, connector_id, allow_zero=True)
        request = build_request(
            GetCompositeScheduleRequest,
            connector_id=connector_id,
            duration=duration,
            charging_rate_unit=charging_rate_unit,
        )
        return await self._engine.call(charge_point_id, request)

    async def expected_composite_schedule(
        self,
        charge_point_id: str,
        connector_id: int,
        duration: int,
        charging_rate_unit: ChargingRateUnitType | None = None,
        *,
        start: datetime | None = None,
        options: CompositeOptions | None = None,
    ) -> ChargingSchedule | None:
        """What GetCompositeSchedule should report, computed from the profile store (§3.13.3).

        ``start`` defaults to the central system's clock; the running transactions come from
        the transaction store; for connector 0 the connectors summed are 1 to the reported
        NumberOfConnectors, when known. Nothing is sent.
        """
        _check_duration(duration)
        await check_connector(self._configuration, charge_point_id, connector_id, allow_zero=True)
        store = self._profile_store()
        installed = await store.installed(charge_point_id)
        running = await self._running(charge_point_id)
        connector_ids = None
        if connector_id == 0:
            count = await number_of_connectors(self._configuration, charge_point_id)
            connector_ids = range(1, count + 1) if count is not None else None
        return composite_schedule(
            [InstalledProfile(connector_id=i.connector_id, profile=i.profile) for i in installed],
            connector_id=connector_id,
            start=self._engine.clock() if start is None else start,
            duration=duration,
            charging_rate_unit=charging_rate_unit,
            transactions={
                c: TransactionInfo(transaction_id=r.transaction_id, start=r.start.timestamp)
                for c, r in running.items()
            },
            connector_ids=connector_ids,
            options=options or CompositeOptions(),
        )

    # -- hooks ------------------------------------------------------------------------------

    async def _drop_stopped_tx_profiles(
        self,
        request: StopTransactionRequest,
        response: StopTransactionResponse,
        context: CallContext,
    ) -> None:
        """The charge point deletes a transaction's TxProfiles when it stops (§3.13.1)."""
        store = self._profiles
        if store is None:
            return
        cp = context.charge_point_id
        installed = await store.installed(cp)
        if not installed or not any(
            item.profile.charging_profile_purpose is ChargingProfilePurposeType.TX_PROFILE
            for item in installed
        ):
            return  # nothing a stop could remove: one store read instead of three
        connector_id: int | None = None
        record = await self._transactions.get(request.transaction_id)
        if record is not None and record.start.charge_point_id == cp:
            connector_id = record.start.connector_id
            # A late StopTransaction (queued while offline): the TxProfiles naming no
            # transaction belong to the one that started there since.
            for other in await self._transactions.active(charge_point_id=cp):
                if (
                    other.start.connector_id == connector_id
                    and other.transaction_id != request.transaction_id
                    and other.start.timestamp > record.start.timestamp
                ):
                    connector_id = None
                    break
        removed = await store.drop_transaction_profiles(
            cp, request.transaction_id, connector_id=connector_id
        )
        if removed:
            log.debug(
                "[%s] transaction %d stopped: TxProfiles %s dropped",
                cp,
                request.transaction_id,
                [i.profile.charging_profile_id for i in removed],
            )


def _check_duration(duration: int) -> None:
    if duration <= 0:
        raise InvalidRequest(f"duration must be a positive number of seconds, got {duration}")


# ---------------------------------------------------------------------------------------------
# Comparing an expected composite schedule with a reported one
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ScheduleDifference:
    """An interval where two composite schedules set different limits.

    ``start`` and ``end`` are seconds from the comparison's origin (``end`` may be
    ``math.inf``); a limit of None means that schedule sets no limit there. Limits are in the
    expected schedule's unit.
    """

    start: float
    end: float
    expected: float | None
    reported: float | None


_ONE_US = timedelta(microseconds=1)
_FOREVER = 1 << 62
_Steps = list[tuple[int, int, float]]


def _anchor_of(
    schedule: ChargingSchedule | GetCompositeScheduleResponse | None,
) -> tuple[ChargingSchedule | None, datetime | None]:
    if isinstance(schedule, GetCompositeScheduleResponse):
        inner = schedule.charging_schedule
        if inner is None:
            return None, None
        # Errata 3.57: the answer gives its start as scheduleStart, beside the schedule.
        return inner, inner.start_schedule or schedule.schedule_start
    if schedule is None:
        return None, None
    return schedule, schedule.start_schedule


def _steps(
    schedule: ChargingSchedule | None,
    anchor: datetime | None,
    origin: datetime | None,
    unit: ChargingRateUnitType,
    options: CompositeOptions,
) -> _Steps:
    if schedule is None:
        return []
    base = 0 if anchor is None or origin is None else (anchor - origin) // _ONE_US
    end = _FOREVER if schedule.duration is None else base + schedule.duration * 1_000_000
    periods = sorted(schedule.charging_schedule_period, key=lambda p: p.start_period)
    out: _Steps = []
    for i, period in enumerate(periods):
        t0 = base + period.start_period * 1_000_000
        t1 = base + periods[i + 1].start_period * 1_000_000 if i + 1 < len(periods) else end
        t1 = min(t1, end)
        if t0 < t1:
            limit = period.limit
            if schedule.charging_rate_unit is not unit:
                factor = options.nominal_voltage * (
                    period.number_phases or options.default_number_phases
                )
                limit = limit * factor if unit is ChargingRateUnitType.W else limit / factor
            out.append((t0, t1, limit))
    return out


def _limit_at(steps: _Steps, starts: list[int], t: int) -> float | None:
    i = bisect.bisect_right(starts, t) - 1
    if i >= 0 and steps[i][0] <= t < steps[i][1]:
        return steps[i][2]
    return None


def _seconds(us: int) -> float:
    return math.inf if us >= _FOREVER else us / 1_000_000


def compare_composite_schedules(
    expected: ChargingSchedule | None,
    reported: ChargingSchedule | GetCompositeScheduleResponse | None,
    *,
    tolerance: float = 0.0,
    start: datetime | None = None,
    options: CompositeOptions | None = None,
) -> list[ScheduleDifference]:
    """The intervals where ``reported`` sets another limit than ``expected``; empty if none.

    Each schedule is in force from its ``start_schedule`` (a GetCompositeSchedule answer's
    ``schedule_start`` when its schedule has none) for its ``duration`` (for ever without
    one). Offsets count from ``start``, else from the expected schedule's start, else from the
    reported one's; a schedule with no start of its own begins at that origin. The reported
    limits are converted to the expected unit as errata 3.69 says (``options``: nominal voltage
    and default phases). Limits within ``tolerance`` of each other count as equal; a limit
    against no limit always differs. Adjacent intervals with the same pair are merged.
    """
    options = options or CompositeOptions()
    expected_schedule, expected_anchor = _anchor_of(expected)
    reported_schedule, reported_anchor = _anchor_of(reported)
    first = expected_schedule or reported_schedule
    if first is None:
        return []
    unit = first.charging_rate_unit
    origin = start or expected_anchor or reported_anchor
    sides = [
        _steps(expected_schedule, expected_anchor, origin, unit, options),
        _steps(reported_schedule, reported_anchor, origin, unit, options),
    ]
    starts = [[s[0] for s in steps] for steps in sides]
    bounds = sorted({t for steps in sides for s in steps for t in s[:2]})
    out: list[ScheduleDifference] = []
    for t0, t1 in itertools.pairwise(bounds):
        want, got = (_limit_at(steps, s, t0) for steps, s in zip(sides, starts, strict=True))
        if _same(want, got, tolerance):
            continue
        last = out[-1] if out else None
        if last and last.end == _seconds(t0) and (last.expected, last.reported) == (want, got):
            out[-1] = attrs.evolve(last, end=_seconds(t1))
        else:
            out.append(
                ScheduleDifference(
                    start=_seconds(t0), end=_seconds(t1), expected=want, reported=got
                )
            )
    return out


def _same(a: float | None, b: float | None, tolerance: float) -> bool:
    if a is None or b is None:
        return a is b
    # Float noise from unit conversion must not count as a difference.
    return abs(a - b) <= tolerance + 1e-9 * max(1.0, abs(a), abs(b))
