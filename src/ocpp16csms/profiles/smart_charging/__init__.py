"""Smart Charging (§3.13, §5.5, §5.7, §5.16): messages, the pure composite-schedule engine and
profile validation, the charging profile store, and the service."""

from ...messages.smart_charging import (
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
)
from .composite import (
    ChargePointLimits,
    ChargingProfileError,
    CompositeOptions,
    InstalledProfile,
    TransactionInfo,
    composite_schedule,
    composite_schedule_response,
    validate_charging_profile,
    validate_remote_start_profile,
)
from .service import (
    ScheduleDifference,
    SmartChargingService,
    compare_composite_schedules,
)
from .store import (
    ChargingProfileStore,
    InstalledChargingProfile,
    MemoryChargingProfileStore,
    clear_matches,
    ends_with_transaction,
    replaces,
)

__all__ = [
    "ChargePointLimits",
    "ChargingProfileError",
    "ChargingProfileStore",
    "ClearChargingProfileRequest",
    "ClearChargingProfileResponse",
    "CompositeOptions",
    "GetCompositeScheduleRequest",
    "GetCompositeScheduleResponse",
    "InstalledChargingProfile",
    "InstalledProfile",
    "MemoryChargingProfileStore",
    "ScheduleDifference",
    "SetChargingProfileRequest",
    "SetChargingProfileResponse",
    "SmartChargingService",
    "TransactionInfo",
    "clear_matches",
    "compare_composite_schedules",
    "composite_schedule",
    "composite_schedule_response",
    "ends_with_transaction",
    "replaces",
    "validate_charging_profile",
    "validate_remote_start_profile",
]
