"""OCTT §3.19: SetChargingProfile, GetCompositeSchedule, ClearChargingProfile and
RemoteStartTransaction with a charging profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ...datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ...enums import (
    AuthorizationStatus,
    ChargePointStatus,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearChargingProfileStatus,
    GetCompositeScheduleStatus,
    RemoteStartStopStatus,
)
from ...messages import (
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
)
from ...messages.base import Profile
from .case import ConformanceCase, conformance_case
from .model import Need
from .tool import Step, Tool

__all__ = ["SMART_CHARGING_CASES"]

_NEEDS = (Need.OPERATOR,)
_SMART = Profile.SMART_CHARGING
_TX_DEFAULT = ChargingProfilePurposeType.TX_DEFAULT_PROFILE
_TX = ChargingProfilePurposeType.TX_PROFILE
_SET = "SetChargingProfile.req"
_CLEAR = "ClearChargingProfile.req"


def _six(unit: ChargingRateUnitType) -> float:
    """The document's limit: 6 A, or 6000 W."""
    return 6.0 if unit is ChargingRateUnitType.A else 6000.0


def _tx_default_profile(tool: Tool, profile_id: int, stack_level: int) -> ChargingProfile:
    config = tool.config
    now = datetime.now(UTC).replace(microsecond=0)
    return ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=stack_level,
        charging_profile_purpose=_TX_DEFAULT,
        charging_profile_kind=ChargingProfileKindType.ABSOLUTE,
        valid_from=now,
        valid_to=now + timedelta(days=1),
        charging_schedule=ChargingSchedule(
            charging_rate_unit=config.charging_rate_unit,
            duration=config.schedule_duration,
            start_schedule=now,
            charging_schedule_period=(
                ChargingSchedulePeriod(
                    start_period=0,
                    limit=_six(config.charging_rate_unit),
                    number_phases=config.number_phases,
                ),
            ),
        ),
    )


def _tx_profile(tool: Tool, profile_id: int, transaction_id: int | None) -> ChargingProfile:
    unit = tool.config.charging_rate_unit
    return ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=tool.config.stack_level,
        charging_profile_purpose=_TX,
        charging_profile_kind=ChargingProfileKindType.RELATIVE,
        transaction_id=transaction_id,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=unit,
            charging_schedule_period=(ChargingSchedulePeriod(start_period=0, limit=_six(unit)),),
        ),
    )


async def _set_profile(tool: Tool, step: Step, profile: ChargingProfile) -> ChargingProfile:
    config = tool.config
    request: SetChargingProfileRequest = await tool.expect(
        step,
        SetChargingProfileRequest,
        lambda operator: operator.set_charging_profile(
            config.charge_point_id, connector_id=config.connector_id, profile=profile
        ),
        SetChargingProfileResponse(status=ChargingProfileStatus.ACCEPTED),
    )
    tool.check_equal(step, _SET, "connectorId", request.connector_id, config.connector_id)
    return request.cs_charging_profiles


@conformance_case(
    "TC_056_CSMS",
    "Central Smart Charging - TxDefaultProfile",
    section="3.19.1",
    checks="SetChargingProfile TxDefaultProfile, Absolute, with the configured stack level, "
    "unit, duration, start period, 6 A/6000 W and phases",
    feature=_SMART,
    needs=_NEEDS,
)
async def tc_056(tool: Tool) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    sent = await _set_profile(tool, 1, _tx_default_profile(tool, 56, config.stack_level))
    schedule = sent.charging_schedule
    check = tool.check_equal
    check(1, _SET, "csChargingProfiles.stackLevel", sent.stack_level, config.stack_level)
    check(
        1,
        _SET,
        "csChargingProfiles.chargingProfilePurpose",
        sent.charging_profile_purpose,
        _TX_DEFAULT,
    )
    check(
        1,
        _SET,
        "csChargingProfiles.chargingProfileKind",
        sent.charging_profile_kind,
        ChargingProfileKindType.ABSOLUTE,
    )
    for field, value in (
        ("validFrom", sent.valid_from),
        ("validTo", sent.valid_to),
        ("chargingSchedule.startSchedule", schedule.start_schedule),
    ):
        tool.check(
            1, _SET, f"csChargingProfiles.{field} is not omitted", value is not None, "omitted"
        )
    prefix = "csChargingProfiles.chargingSchedule"
    check(
        1,
        _SET,
        f"{prefix}.chargingRateUnit",
        schedule.charging_rate_unit,
        config.charging_rate_unit,
    )
    check(1, _SET, f"{prefix}.duration", schedule.duration, config.schedule_duration)
    period = schedule.charging_schedule_period[0]
    check(1, _SET, f"{prefix}.chargingSchedulePeriod.startPeriod", period.start_period, 0)
    limit = _six(config.charging_rate_unit)
    tool.check(
        1,
        _SET,
        f"{prefix}.chargingSchedulePeriod.limit is 6.0 or 6000.0",
        period.limit == limit,
        period.limit,
    )
    phases = config.number_phases
    allowed: tuple[int | None, ...] = (phases, None) if phases == 3 else (phases,)
    tool.check(
        1,
        _SET,
        f"{prefix}.chargingSchedulePeriod.numberPhases is {phases}"
        + (" or omitted" if phases == 3 else ""),
        period.number_phases in allowed,
        period.number_phases,
    )


@conformance_case(
    "TC_057_CSMS",
    "Central Smart Charging - TxProfile",
    section="3.19.1",
    checks="SetChargingProfile TxProfile for the running transaction",
    feature=_SMART,
    needs=_NEEDS,
)
async def tc_057(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    transaction = await tool.charging()
    sent = await _set_profile(tool, 1, _tx_profile(tool, 57, transaction))
    tool.check_equal(
        1, _SET, "csChargingProfiles.chargingProfilePurpose", sent.charging_profile_purpose, _TX
    )
    tool.check_equal(
        1,
        _SET,
        "csChargingProfiles.transactionId (the generated transactionId)",
        sent.transaction_id,
        transaction,
    )


@conformance_case(
    "TC_066_CSMS",
    "Get Composite Schedule",
    section="3.19.2",
    checks="GetCompositeSchedule with the configured connector, duration and unit",
    feature=_SMART,
    needs=_NEEDS,
)
async def tc_066(tool: Tool) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()

    def composite(request: GetCompositeScheduleRequest) -> GetCompositeScheduleResponse:
        # A fixed schedule: the central system only has to take it.
        unit = request.charging_rate_unit or config.charging_rate_unit
        return GetCompositeScheduleResponse(
            status=GetCompositeScheduleStatus.ACCEPTED,
            connector_id=request.connector_id,
            schedule_start=datetime.now(UTC).replace(microsecond=0),
            charging_schedule=ChargingSchedule(
                charging_rate_unit=unit,
                duration=request.duration,
                charging_schedule_period=(
                    ChargingSchedulePeriod(start_period=0, limit=2 * _six(unit)),
                    ChargingSchedulePeriod(start_period=request.duration // 2, limit=_six(unit)),
                ),
            ),
        )

    request: GetCompositeScheduleRequest = await tool.expect(
        1,
        GetCompositeScheduleRequest,
        lambda operator: operator.get_composite_schedule(
            config.charge_point_id,
            connector_id=config.connector_id,
            duration=config.schedule_duration,
            charging_rate_unit=config.charging_rate_unit,
        ),
        composite,
    )
    message = "GetCompositeSchedule.req"
    tool.check_equal(1, message, "connectorId", request.connector_id, config.connector_id)
    tool.check_equal(1, message, "duration", request.duration, config.schedule_duration)
    tool.check_equal(
        1, message, "chargingRateUnit", request.charging_rate_unit, config.charging_rate_unit
    )


async def _clear(
    tool: Tool, step: Step, *, profile_id: int | None = None, criteria: bool = False
) -> ClearChargingProfileRequest:
    config = tool.config
    request: ClearChargingProfileRequest = await tool.expect(
        step,
        ClearChargingProfileRequest,
        lambda operator: operator.clear_charging_profile(
            config.charge_point_id,
            profile_id=profile_id,
            connector_id=config.connector_id if criteria else None,
            purpose=_TX_DEFAULT if criteria else None,
            stack_level=config.stack_level + 1 if criteria else None,
        ),
        ClearChargingProfileResponse(status=ClearChargingProfileStatus.ACCEPTED),
    )
    return request


@conformance_case(
    "TC_067_CSMS",
    "Clear Charging Profile",
    section="3.19.3",
    checks="three TxDefaultProfiles set, then ClearChargingProfile by id, by criteria, and "
    "with no field at all",
    feature=_SMART,
    needs=_NEEDS,
)
async def tc_067(tool: Tool) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    sent = []
    for number in range(3):
        profile = _tx_default_profile(tool, 671 + number, config.stack_level + number)
        installed = await _set_profile(tool, 1, profile)
        tool.check_equal(
            1,
            _SET,
            f"Charging profile {number + 1}: the chargingProfilePurpose",
            installed.charging_profile_purpose,
            _TX_DEFAULT,
        )
        tool.check_equal(
            1,
            _SET,
            f"Charging profile {number + 1}: the stackLevel",
            installed.stack_level,
            config.stack_level + number,
        )
        sent.append(installed)
    first = sent[0].charging_profile_id
    by_id = await _clear(tool, 3, profile_id=first)
    tool.check_equal(3, _CLEAR, "The id (of charging profile 1)", by_id.id, first)
    tool.check(
        3,
        _CLEAR,
        "The connectorId, chargingProfilePurpose and stackLevel fields are omitted",
        (by_id.connector_id, by_id.charging_profile_purpose, by_id.stack_level)
        == (None, None, None),
        by_id,
    )
    by_criteria = await _clear(tool, 5, criteria=True)
    tool.check(5, _CLEAR, "The id is omitted", by_criteria.id is None, by_criteria.id)
    tool.check_equal(5, _CLEAR, "The connectorId", by_criteria.connector_id, config.connector_id)
    tool.check_equal(
        5, _CLEAR, "The chargingProfilePurpose", by_criteria.charging_profile_purpose, _TX_DEFAULT
    )
    tool.check_equal(5, _CLEAR, "The stackLevel", by_criteria.stack_level, config.stack_level + 1)
    everything = await _clear(tool, 7)
    fields = (
        everything.id,
        everything.connector_id,
        everything.charging_profile_purpose,
        everything.stack_level,
    )
    tool.check(7, _CLEAR, "All fields are omitted", fields == (None,) * 4, everything)


@conformance_case(
    "TC_059_CSMS",
    "Remote Start Transaction with Charging Profile",
    section="3.19.4",
    checks="RemoteStartTransaction with a Relative TxProfile without transactionId; the "
    "transaction it starts is Accepted",
    feature=_SMART,
    needs=_NEEDS,
)
async def tc_059(tool: Tool) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    request: RemoteStartTransactionRequest = await tool.expect(
        1,
        RemoteStartTransactionRequest,
        lambda operator: operator.remote_start(
            config.charge_point_id,
            id_tag=config.valid_id_tag,
            connector_id=config.connector_id,
            charging_profile=_tx_profile(tool, 59, None),
        ),
        RemoteStartTransactionResponse(status=RemoteStartStopStatus.ACCEPTED),
    )
    message = "RemoteStartTransaction.req"
    tool.check(
        1,
        message,
        f"The idTag is {config.valid_id_tag}",
        request.id_tag.casefold() == config.valid_id_tag.casefold(),
        request.id_tag,
    )
    tool.check_equal(1, message, "The connectorId", request.connector_id, config.connector_id)
    profile = request.charging_profile
    if profile is None:
        tool.fail(1, message, "The chargingProfile is given", "omitted")
    tool.check_equal(
        1,
        message,
        "The chargingProfile.chargingProfilePurpose",
        profile.charging_profile_purpose,
        _TX,
    )
    tool.check(
        1,
        message,
        "The chargingProfile.transactionId is omitted",
        profile.transaction_id is None,
        profile.transaction_id,
    )
    tool.check_equal(
        1,
        message,
        "The chargingProfile.chargingProfileKind",
        profile.charging_profile_kind,
        ChargingProfileKindType.RELATIVE,
    )
    first = profile.charging_schedule.charging_schedule_period[0]
    tool.check_equal(
        1,
        message,
        "The chargingProfile.chargingSchedule.chargingSchedulePeriod.startPeriod",
        first.start_period,
        0,
    )
    accepted = AuthorizationStatus.ACCEPTED
    authorized = await tool.authorize(4, request.id_tag)
    tool.check_equal(
        4, "Authorize.conf", "The idTagInfo.status", authorized.id_tag_info.status, accepted
    )
    await tool.status(6, config.connector_id, ChargePointStatus.PREPARING)
    started = await tool.start_transaction(8, id_tag=request.id_tag)
    tool.check_equal(
        8, "StartTransaction.conf", "The idTagInfo.status", started.id_tag_info.status, accepted
    )
    await tool.status(10, config.connector_id, ChargePointStatus.CHARGING)


SMART_CHARGING_CASES: tuple[ConformanceCase, ...] = (
    tc_056,
    tc_057,
    tc_066,
    tc_067,
    tc_059,
)
"""OCTT §3.19, in the document's order."""
