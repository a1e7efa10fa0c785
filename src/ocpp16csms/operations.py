"""Typed outbound operations of the Core and Remote Trigger profiles (OCPP 1.6 §5).

Thin methods over :meth:`CentralSystem.call`: each builds its request from typed arguments,
checks what can be checked before sending (raising :class:`InvalidRequest`, nothing sent), and
keeps the stores in step with the charge point's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import attrs

from .datatypes import ChargingProfile
from .enums import (
    AvailabilityType,
    ConfigurationStatus,
    MessageTrigger,
    MessageTriggerExtended,
    RegistrationStatus,
    ResetType,
)
from .errors import InvalidRequest
from .messages import Request, Response
from .profiles import (
    ChangeAvailabilityRequest,
    ChangeAvailabilityResponse,
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    ClearCacheRequest,
    ClearCacheResponse,
    DataTransferRequest,
    DataTransferResponse,
    ExtendedTriggerMessageRequest,
    ExtendedTriggerMessageResponse,
    GetConfigurationRequest,
    GetConfigurationResponse,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
    ResetRequest,
    ResetResponse,
    TriggerMessageRequest,
    TriggerMessageResponse,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
)
from .security import hash_password
from .smart_charging import ChargePointLimits, validate_remote_start_profile
from .stores import ChargePointRecord, Stores

if TYPE_CHECKING:
    from .handlers import CoreHandlers, DataTransferHandler

__all__ = ["Operations", "build_request"]

_Res = TypeVar("_Res", bound=Response)

# Triggers whose answer is about one connector may name it; the others concern the whole
# charge point, so a connector id with them is a caller's mistake (§5.17).
_CONNECTOR_TRIGGERS = frozenset({"MeterValues", "StatusNotification"})

# Configuration keys whose values are secrets (security whitepaper: AuthorizationKey is
# write-only); they are sent but never stored or shown.
_SECRET_KEYS = frozenset({"authorizationkey"})


_Q = TypeVar("_Q", bound=Request[Any])


def build_request(request_type: type[_Q], **fields: Any) -> _Q:
    """Construct a request, turning a constraint failure into :class:`InvalidRequest`."""
    try:
        return request_type(**fields)
    except (ValueError, TypeError) as error:
        raise InvalidRequest(f"{request_type.__name__}: {error}") from None


class Operations:
    """Mixin of :class:`~ocpp16csms.CentralSystem`: one typed method per outbound operation."""

    stores: Stores
    core: CoreHandlers
    clock: Callable[[], datetime]

    async def call(self, charge_point_id: str, request: Request[_Res]) -> _Res:
        raise NotImplementedError  # pragma: no cover - provided by CentralSystem

    def add_answer_hook(self, request_type: type[Any], hook: Any) -> None:
        raise NotImplementedError  # pragma: no cover - provided by CentralSystem

    def add_periodic(self, interval: float, job: Any) -> None:
        raise NotImplementedError  # pragma: no cover - provided by CentralSystem

    def _install_services(self) -> None:
        """Profile service mixins override this (calling ``super()``) to register their
        answer hooks and periodic jobs; it runs once, when the central system is built."""

    # -- checks -----------------------------------------------------------------------------

    async def number_of_connectors(self, charge_point_id: str) -> int | None:
        """The connectors the charge point reported (configuration key NumberOfConnectors)."""
        entry = (await self.stores.configuration.get(charge_point_id)).get("NumberOfConnectors")
        if entry is None or entry.value is None:
            return None
        try:
            return int(entry.value)
        except ValueError:
            return None

    async def _check_connector(
        self, charge_point_id: str, connector_id: int | None, *, allow_zero: bool
    ) -> None:
        if connector_id is None:
            return
        if connector_id < (0 if allow_zero else 1):
            lowest = 0 if allow_zero else 1
            raise InvalidRequest(f"connector id {connector_id} is below {lowest}")
        known = await self.number_of_connectors(charge_point_id)
        if known is not None and connector_id > known:
            raise InvalidRequest(
                f"connector {connector_id} does not exist: {charge_point_id!r} reported "
                f"{known} connectors"
            )

    # -- Core ---------------------------------------------------------------------------------

    async def change_availability(
        self, charge_point_id: str, connector_id: int, availability: AvailabilityType
    ) -> ChangeAvailabilityResponse:
        """§5.2: make a connector (0: the whole charge point) operative or inoperative."""
        await self._check_connector(charge_point_id, connector_id, allow_zero=True)
        request = build_request(
            ChangeAvailabilityRequest, connector_id=connector_id, type=availability
        )
        return await self.call(charge_point_id, request)

    async def change_configuration(
        self, charge_point_id: str, key: str, value: str
    ) -> ChangeConfigurationResponse:
        """§5.3: set a key; the configuration store follows on Accepted or RebootRequired."""
        known = (await self.stores.configuration.get(charge_point_id)).get(key)
        if known is not None and known.readonly:
            raise InvalidRequest(f"{key} is read-only on {charge_point_id!r}")
        request = build_request(ChangeConfigurationRequest, key=key, value=value)
        response = await self.call(charge_point_id, request)
        accepted = (ConfigurationStatus.ACCEPTED, ConfigurationStatus.REBOOT_REQUIRED)
        # A secret (the Basic auth password) is write-only: never kept as a plain value.
        if response.status in accepted and key.casefold() not in _SECRET_KEYS:
            await self.stores.configuration.set_value(charge_point_id, key, value)
        return response

    async def set_authorization_key(
        self, charge_point_id: str, password: str
    ) -> ChangeConfigurationResponse:
        """Give the charge point a new HTTP Basic password (whitepaper §2.2, AuthorizationKey).

        The password must be 16 to 40 characters. On Accepted only its salted hash is stored,
        in the charge point record, so the next connection must use it; it is never stored or
        logged in plain text.
        """
        if not 16 <= len(password) <= 40:
            raise InvalidRequest("an AuthorizationKey is 16 to 40 characters long")
        record = await self.stores.charge_points.get(charge_point_id)
        response = await self.change_configuration(charge_point_id, "AuthorizationKey", password)
        if response.status in (ConfigurationStatus.ACCEPTED, ConfigurationStatus.REBOOT_REQUIRED):
            record = record or ChargePointRecord(charge_point_id=charge_point_id)
            hashed = await anyio.to_thread.run_sync(hash_password, password)
            await self.stores.charge_points.save(attrs.evolve(record, password_hash=hashed))
        return response

    async def clear_cache(self, charge_point_id: str) -> ClearCacheResponse:
        """§5.4: clear the charge point's authorization cache."""
        return await self.call(charge_point_id, ClearCacheRequest())

    async def get_configuration(
        self, charge_point_id: str, keys: Iterable[str] | None = None
    ) -> GetConfigurationResponse:
        """§5.8: read keys (all when ``keys`` is None); the reported ones are stored."""
        key_list = tuple(keys) if keys is not None else None
        request = build_request(GetConfigurationRequest, key=key_list or None)
        response = await self.call(charge_point_id, request)
        if response.configuration_key:
            await self.stores.configuration.put(charge_point_id, response.configuration_key)
        return response

    async def remote_start_transaction(
        self,
        charge_point_id: str,
        id_tag: str,
        *,
        connector_id: int | None = None,
        charging_profile: ChargingProfile | None = None,
    ) -> RemoteStartTransactionResponse:
        """§5.11: ask the charge point to start a transaction, optionally with a TxProfile."""
        if charging_profile is not None:
            configuration = await self.stores.configuration.get(charge_point_id)
            limits = ChargePointLimits.from_configuration(
                {key: e.value for key, e in configuration.items() if e.value is not None}
            )
            validate_remote_start_profile(charging_profile, limits=limits)
        await self._check_connector(charge_point_id, connector_id, allow_zero=False)
        request = build_request(
            RemoteStartTransactionRequest,
            id_tag=id_tag,
            connector_id=connector_id,
            charging_profile=charging_profile,
        )
        return await self.call(charge_point_id, request)

    async def remote_stop_transaction(
        self, charge_point_id: str, transaction_id: int
    ) -> RemoteStopTransactionResponse:
        """§5.12: ask the charge point to stop a transaction it runs."""
        record = await self.stores.transactions.get(transaction_id)
        if record is not None and record.start.charge_point_id != charge_point_id:
            raise InvalidRequest(
                f"transaction {transaction_id} runs on {record.start.charge_point_id!r}, "
                f"not {charge_point_id!r}"
            )
        if record is not None and not record.active:
            raise InvalidRequest(f"transaction {transaction_id} has already stopped")
        request = build_request(RemoteStopTransactionRequest, transaction_id=transaction_id)
        return await self.call(charge_point_id, request)

    async def reset(self, charge_point_id: str, reset_type: ResetType) -> ResetResponse:
        """§5.14: soft or hard reset."""
        return await self.call(charge_point_id, build_request(ResetRequest, type=reset_type))

    async def unlock_connector(
        self, charge_point_id: str, connector_id: int
    ) -> UnlockConnectorResponse:
        """§5.18: unlock a connector."""
        await self._check_connector(charge_point_id, connector_id, allow_zero=False)
        request = build_request(UnlockConnectorRequest, connector_id=connector_id)
        return await self.call(charge_point_id, request)

    async def data_transfer(
        self,
        charge_point_id: str,
        vendor_id: str,
        *,
        message_id: str | None = None,
        data: str | None = None,
    ) -> DataTransferResponse:
        """§5.5: send vendor-specific data to the charge point."""
        request = build_request(
            DataTransferRequest, vendor_id=vendor_id, message_id=message_id, data=data
        )
        return await self.call(charge_point_id, request)

    # -- Remote Trigger -----------------------------------------------------------------------

    async def trigger_message(
        self,
        charge_point_id: str,
        requested_message: MessageTrigger,
        *,
        connector_id: int | None = None,
    ) -> TriggerMessageResponse:
        """§5.17: ask the charge point to send a message now."""
        await self._check_trigger(charge_point_id, requested_message.value, connector_id)
        request = build_request(
            TriggerMessageRequest, requested_message=requested_message, connector_id=connector_id
        )
        return await self.call(charge_point_id, request)

    async def extended_trigger_message(
        self,
        charge_point_id: str,
        requested_message: MessageTriggerExtended,
        *,
        connector_id: int | None = None,
    ) -> ExtendedTriggerMessageResponse:
        """Security whitepaper §5.5: TriggerMessage with the security messages added."""
        await self._check_trigger(charge_point_id, requested_message.value, connector_id)
        request = build_request(
            ExtendedTriggerMessageRequest,
            requested_message=requested_message,
            connector_id=connector_id,
        )
        return await self.call(charge_point_id, request)

    async def _check_trigger(
        self, charge_point_id: str, requested: str, connector_id: int | None
    ) -> None:
        if connector_id is not None and requested not in _CONNECTOR_TRIGGERS:
            raise InvalidRequest(f"{requested} concerns the whole charge point; no connector id")
        await self._check_connector(charge_point_id, connector_id, allow_zero=False)

    # -- registration and DataTransfer routing -----------------------------------------------------

    async def accept_charge_point(self, charge_point_id: str) -> None:
        """Register the charge point as Accepted (its next BootNotification is accepted)."""
        record = await self.stores.charge_points.get(charge_point_id)
        record = record or ChargePointRecord(charge_point_id=charge_point_id)
        await self.stores.charge_points.save(
            attrs.evolve(record, registration_status=RegistrationStatus.ACCEPTED)
        )

    def data_transfer_handler(
        self, vendor_id: str, message_id: str | None = None
    ) -> Callable[[DataTransferHandler], DataTransferHandler]:
        """Decorator: answer inbound DataTransfer for ``vendor_id`` (and ``message_id``)."""

        def register(handler: DataTransferHandler) -> DataTransferHandler:
            self.core.register_data_transfer(vendor_id, message_id, handler)
            return handler

        return register
