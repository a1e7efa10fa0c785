"""The operator for our own :class:`~ocpp16csms.CentralSystem`: each manual action of the
OCTT document is one of its typed operations, as a host's back office would call it."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Sequence
from datetime import datetime

from ...central_system import CentralSystem
from ...datatypes import (
    AuthorizationData,
    CertificateHashData,
    ChargingProfile,
    Firmware,
    LogParameters,
)
from ...enums import (
    AuthorizationStatus,
    AvailabilityType,
    CertificateUse,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    LogType,
    MessageTrigger,
    MessageTriggerExtended,
    ResetType,
    UpdateType,
)
from ...stores.records import IdTagRecord

__all__ = ["InProcessOperator"]


class InProcessOperator:
    """Drives a :class:`~ocpp16csms.CentralSystem` in this process (see
    :class:`~ocpp16csms.testing.conformance.operators.Operator`).

    Memory states go straight to its stores; requests go through ``cs.core``,
    ``cs.reservation``, ``cs.smart_charging``, ``cs.security``, … so every check they make
    before sending applies. Reservation, GetLog and firmware request ids come from a counter
    starting at ``first_id``.
    """

    def __init__(self, central_system: CentralSystem, *, first_id: int = 1) -> None:
        self.central_system = central_system
        self._ids = itertools.count(first_id)

    async def set_id_tag_status(
        self, id_tag: str, status: AuthorizationStatus, *, parent_id_tag: str | None = None
    ) -> object:
        await self.central_system.stores.id_tags.save(
            IdTagRecord(id_tag=id_tag, status=status, parent_id_tag=parent_id_tag)
        )
        return None

    async def remote_start(
        self,
        charge_point_id: str,
        *,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: ChargingProfile | None = None,
    ) -> object:
        return await self.central_system.core.remote_start_transaction(
            charge_point_id, id_tag, connector_id=connector_id, charging_profile=charging_profile
        )

    async def remote_stop(self, charge_point_id: str, *, transaction_id: int) -> object:
        return await self.central_system.core.remote_stop_transaction(
            charge_point_id, transaction_id
        )

    async def reset(self, charge_point_id: str, *, reset_type: ResetType) -> object:
        return await self.central_system.core.reset(charge_point_id, reset_type)

    async def unlock_connector(self, charge_point_id: str, *, connector_id: int) -> object:
        return await self.central_system.core.unlock_connector(charge_point_id, connector_id)

    async def clear_cache(self, charge_point_id: str) -> object:
        return await self.central_system.core.clear_cache(charge_point_id)

    async def get_configuration(
        self, charge_point_id: str, *, keys: Sequence[str] | None = None
    ) -> object:
        return await self.central_system.core.get_configuration(charge_point_id, keys)

    async def change_configuration(self, charge_point_id: str, *, key: str, value: str) -> object:
        return await self.central_system.core.change_configuration(charge_point_id, key, value)

    async def change_availability(
        self, charge_point_id: str, *, connector_id: int, availability: AvailabilityType
    ) -> object:
        return await self.central_system.core.change_availability(
            charge_point_id, connector_id, availability
        )

    async def get_local_list_version(self, charge_point_id: str) -> object:
        return await self.central_system.local_auth_list.get_local_list_version(charge_point_id)

    async def send_local_list(
        self, charge_point_id: str, *, update_type: UpdateType, id_tags: Sequence[str]
    ) -> object:
        cs = self.central_system
        now = cs.clock()
        entries = [
            AuthorizationData(
                id_tag=tag, id_tag_info=await cs.core.id_tag_info(tag, now, check_concurrent=False)
            )
            for tag in id_tags
        ]
        held = await cs.stores.require("local_lists").get(charge_point_id)
        version = (held.version if held is not None else 0) + 1
        return await cs.local_auth_list.send_local_list(
            charge_point_id, version=version, update_type=update_type, entries=entries
        )

    async def update_firmware(
        self, charge_point_id: str, *, location: str, retrieve_date: datetime
    ) -> object:
        return await self.central_system.firmware.update_firmware(
            charge_point_id, location, retrieve_date
        )

    async def get_diagnostics(self, charge_point_id: str, *, location: str) -> object:
        return await self.central_system.firmware.get_diagnostics(charge_point_id, location)

    async def reserve_now(
        self,
        charge_point_id: str,
        *,
        connector_id: int,
        id_tag: str,
        expiry_date: datetime,
        parent_id_tag: str | None = None,
    ) -> object:
        return await self.central_system.reservation.reserve_now(
            charge_point_id,
            reservation_id=next(self._ids),
            connector_id=connector_id,
            id_tag=id_tag,
            expiry_date=expiry_date,
            parent_id_tag=parent_id_tag,
        )

    async def cancel_reservation(self, charge_point_id: str, *, reservation_id: int) -> object:
        return await self.central_system.reservation.cancel_reservation(
            charge_point_id, reservation_id
        )

    async def trigger_message(
        self,
        charge_point_id: str,
        *,
        requested_message: MessageTrigger,
        connector_id: int | None = None,
    ) -> object:
        return await self.central_system.remote_trigger.trigger_message(
            charge_point_id, requested_message, connector_id=connector_id
        )

    async def set_charging_profile(
        self, charge_point_id: str, *, connector_id: int, profile: ChargingProfile
    ) -> object:
        return await self.central_system.smart_charging.set_charging_profile(
            charge_point_id, connector_id, profile
        )

    async def clear_charging_profile(
        self,
        charge_point_id: str,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: ChargingProfilePurposeType | None = None,
        stack_level: int | None = None,
    ) -> object:
        return await self.central_system.smart_charging.clear_charging_profile(
            charge_point_id,
            charging_profile_id=profile_id,
            connector_id=connector_id,
            purpose=purpose,
            stack_level=stack_level,
        )

    async def get_composite_schedule(
        self,
        charge_point_id: str,
        *,
        connector_id: int,
        duration: int,
        charging_rate_unit: ChargingRateUnitType | None = None,
    ) -> object:
        return await self.central_system.smart_charging.get_composite_schedule(
            charge_point_id, connector_id, duration, charging_rate_unit
        )

    async def change_authorization_key(self, charge_point_id: str) -> object:
        # 32 characters of URL-safe base64: within the whitepaper's 16 to 40.
        password = secrets.token_urlsafe(24)
        return await self.central_system.security.set_authorization_key(charge_point_id, password)

    async def extended_trigger_message(
        self,
        charge_point_id: str,
        *,
        requested_message: MessageTriggerExtended,
        connector_id: int | None = None,
    ) -> object:
        return await self.central_system.remote_trigger.extended_trigger_message(
            charge_point_id, requested_message, connector_id=connector_id
        )

    async def install_certificate(
        self, charge_point_id: str, *, certificate_type: CertificateUse, certificate_pem: str
    ) -> object:
        return await self.central_system.security.install_certificate(
            charge_point_id, certificate_type, certificate_pem
        )

    async def get_installed_certificate_ids(
        self, charge_point_id: str, *, certificate_type: CertificateUse
    ) -> object:
        return await self.central_system.security.get_installed_certificate_ids(
            charge_point_id, certificate_type
        )

    async def delete_certificate(
        self, charge_point_id: str, *, certificate_hash_data: CertificateHashData
    ) -> object:
        return await self.central_system.security.delete_certificate(
            charge_point_id, certificate_hash_data
        )

    async def get_log(self, charge_point_id: str, *, log_type: LogType, location: str) -> object:
        return await self.central_system.security.get_log(
            charge_point_id,
            log_type=log_type,
            request_id=next(self._ids),
            log=LogParameters(remote_location=location),
        )

    async def signed_update_firmware(
        self,
        charge_point_id: str,
        *,
        location: str,
        retrieve_date: datetime,
        signing_certificate_pem: str,
        signature: str,
    ) -> object:
        return await self.central_system.security.signed_update_firmware(
            charge_point_id,
            request_id=next(self._ids),
            firmware=Firmware(
                location=location,
                retrieve_date_time=retrieve_date,
                signing_certificate=signing_certificate_pem,
                signature=signature,
            ),
        )
