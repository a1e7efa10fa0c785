"""The feature services a :class:`~ocpp16csms.CentralSystem` composes, built from its stores."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .bundle import Stores
from .engine import Engine
from .messages.base import Profile
from .profiles.core.service import CoreService
from .profiles.firmware.service import FirmwareService
from .profiles.local_auth_list.service import LocalAuthListService
from .profiles.plug_and_charge.service import PlugAndChargeService
from .profiles.remote_trigger.service import RemoteTriggerService
from .profiles.reservation.service import ReservationService
from .profiles.security.service import SecurityService
from .profiles.smart_charging.service import SmartChargingService

__all__ = ["build_services"]


def build_services(
    engine: Engine, stores: Stores, features: Iterable[Profile]
) -> tuple[CoreService, dict[Profile, object]]:
    """Core's service, and the service of every other feature in ``features``."""
    core = CoreService(
        engine,
        charge_points=stores.charge_points,
        id_tags=stores.id_tags,
        transactions=stores.transactions,
        configuration=stores.configuration,
    )
    builders: dict[Profile, Callable[[], object]] = {
        Profile.REMOTE_TRIGGER: lambda: RemoteTriggerService(
            engine, configuration=stores.configuration
        ),
        Profile.SMART_CHARGING: lambda: SmartChargingService(
            engine,
            profiles=stores.charging_profiles,
            transactions=stores.transactions,
            configuration=stores.configuration,
        ),
        Profile.FIRMWARE_MANAGEMENT: lambda: FirmwareService(
            engine, configuration=stores.configuration, device_state=stores.device_state
        ),
        Profile.LOCAL_AUTH_LIST_MANAGEMENT: lambda: LocalAuthListService(
            engine, lists=stores.local_lists, configuration=stores.configuration
        ),
        Profile.RESERVATION: lambda: ReservationService(
            engine,
            reservations=stores.reservations,
            charge_points=stores.charge_points,
            id_tags=stores.id_tags,
            configuration=stores.configuration,
        ),
        Profile.SECURITY: lambda: SecurityService(
            engine,
            charge_points=stores.charge_points,
            configuration=stores.configuration,
            device_state=stores.device_state,
        ),
        Profile.PLUG_AND_CHARGE: lambda: PlugAndChargeService(
            engine,
            route_data_transfer=core.handlers.register_data_transfer,
            id_tags=stores.id_tags,
            configuration=stores.configuration,
            certificates=stores.pnc_certificates,
        ),
    }
    wanted = frozenset(features)
    return core, {profile: build() for profile, build in builders.items() if profile in wanted}
