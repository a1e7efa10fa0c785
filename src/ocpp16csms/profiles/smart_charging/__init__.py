"""Smart Charging (§3.13, §5.5, §5.7, §5.16): messages, the pure composite-schedule engine and
profile validation, site load balancing, the charging profile store, and the service."""

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
from .load_balancing import (
    BalancingStrategy,
    LoadDemand,
    LoadShare,
    balance_load,
    charge_point_cap,
    tx_profile_for,
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
    "BalancingStrategy",
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
    "LoadDemand",
    "LoadShare",
    "MemoryChargingProfileStore",
    "ScheduleDifference",
    "SetChargingProfileRequest",
    "SetChargingProfileResponse",
    "SmartChargingService",
    "TransactionInfo",
    "balance_load",
    "charge_point_cap",
    "clear_matches",
    "compare_composite_schedules",
    "composite_schedule",
    "composite_schedule_response",
    "ends_with_transaction",
    "replaces",
    "tx_profile_for",
    "validate_charging_profile",
    "validate_remote_start_profile",
]
