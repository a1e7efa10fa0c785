"""Smart Charging profile messages (OCPP 1.6 §3.13, §5.5, §5.7, §5.16)."""

# Annotations are evaluated: the constraints in them become validators (see constraints.py).
from datetime import datetime

from ..constraints import ConnectorId
from ..datatypes import ChargingProfile, ChargingSchedule
from ..enums import (
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearChargingProfileStatus,
    GetCompositeScheduleStatus,
)
from .base import Direction, Profile, Request, Response, request, response

__all__ = [
    "ClearChargingProfileRequest",
    "ClearChargingProfileResponse",
    "GetCompositeScheduleRequest",
    "GetCompositeScheduleResponse",
    "SetChargingProfileRequest",
    "SetChargingProfileResponse",
]

_TO_CP = Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT
_SMART = Profile.SMART_CHARGING


@request("ClearChargingProfile", _TO_CP, _SMART)
class ClearChargingProfileRequest(Request["ClearChargingProfileResponse"]):
    """Clears the profiles that match every given criterion; none given clears all (§6.15)."""

    id: int | None = None
    connector_id: ConnectorId | None = None
    charging_profile_purpose: ChargingProfilePurposeType | None = None
    stack_level: int | None = None


@response(ClearChargingProfileRequest)
class ClearChargingProfileResponse(Response):
    """Accepted when profiles were cleared, Unknown when none matched (§6.16)."""

    status: ClearChargingProfileStatus


@request("GetCompositeSchedule", _TO_CP, _SMART)
class GetCompositeScheduleRequest(Request["GetCompositeScheduleResponse"]):
    """Asks for the schedule a connector will follow for ``duration`` seconds (§5.7, §6.21)."""

    connector_id: ConnectorId
    duration: int
    charging_rate_unit: ChargingRateUnitType | None = None


@response(GetCompositeScheduleRequest)
class GetCompositeScheduleResponse(Response):
    """The composite schedule, when the charge point could compute it (§6.22)."""

    status: GetCompositeScheduleStatus
    connector_id: ConnectorId | None = None
    schedule_start: datetime | None = None
    charging_schedule: ChargingSchedule | None = None


@request("SetChargingProfile", _TO_CP, _SMART)
class SetChargingProfileRequest(Request["SetChargingProfileResponse"]):
    """Installs a charging profile on a connector, or with 0 on the charge point (§5.16, §6.51)."""

    connector_id: ConnectorId
    cs_charging_profiles: ChargingProfile


@response(SetChargingProfileRequest)
class SetChargingProfileResponse(Response):
    """Whether the profile was installed (§6.52)."""

    status: ChargingProfileStatus
