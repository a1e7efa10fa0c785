"""The Core profile's service: default inbound handlers and typed outbound operations (§5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import attrs

from ...checks import build_request, check_connector, number_of_connectors
from ...datatypes import ChargingProfile, IdTagInfo
from ...engine import Engine
from ...enums import AvailabilityType, ConfigurationStatus, RegistrationStatus, ResetType
from ...errors import InvalidRequest
from ...messages.base import Request
from ...messages.core import (
    ChangeAvailabilityRequest,
    ChangeAvailabilityResponse,
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    ClearCacheRequest,
    ClearCacheResponse,
    DataTransferRequest,
    DataTransferResponse,
    GetConfigurationRequest,
    GetConfigurationResponse,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
    ResetRequest,
    ResetResponse,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
)
from ...stores.records import (
    ChargePointRecord,
    ChargePointStore,
    ConfigurationStore,
    IdTagStore,
    TransactionRecord,
    TransactionStore,
    UnmatchedStop,
)
from ._stale_job import StaleTransactionJob
from .handlers import CoreHandlers, DataTransferHandler
from .meter_values import EnergyResult, transaction_energy
from .stale import StaleSuspicion

__all__ = ["SECRET_CONFIGURATION_KEYS", "CoreService"]

SECRET_CONFIGURATION_KEYS = frozenset({"authorizationkey"})
"""Configuration keys (casefolded) whose values are secrets (security whitepaper:
AuthorizationKey is write-only): they are sent but never stored or shown."""


def redacted(request: Request[Any]) -> Request[Any]:
    """``request`` as observers and logs may see it: a secret configuration value masked."""
    if (
        isinstance(request, ChangeConfigurationRequest)
        and request.key.casefold() in SECRET_CONFIGURATION_KEYS
    ):
        return ChangeConfigurationRequest(key=request.key, value="********")
    return request


class CoreService:
    """The Core profile (``central_system.core``): the default inbound handlers
    (:attr:`handlers`) and one typed method per outbound Core operation (§5).

    Each operation builds its request from typed arguments, checks what can be checked before
    sending (raising :class:`~ocpp16csms.errors.InvalidRequest`, nothing sent), and keeps the
    stores in step with the charge point's answer.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        charge_points: ChargePointStore,
        id_tags: IdTagStore,
        transactions: TransactionStore,
        configuration: ConfigurationStore,
    ) -> None:
        self._engine = engine
        self.charge_points = charge_points
        self.transactions = transactions
        self.configuration = configuration
        self.handlers = CoreHandlers(
            engine, charge_points=charge_points, id_tags=id_tags, transactions=transactions
        )
        self.handlers.install()
        self._stale = StaleTransactionJob(
            engine, charge_points=charge_points, transactions=transactions
        )

    async def id_tag_info(
        self, id_tag: str, now: datetime, *, check_concurrent: bool = True
    ) -> IdTagInfo:
        """The IdTagInfo the central system gives ``id_tag`` at ``now`` (§4.1, §7.2)."""
        return await self.handlers.id_tag_info(id_tag, now, check_concurrent=check_concurrent)

    async def number_of_connectors(self, charge_point_id: str) -> int | None:
        """The connectors the charge point reported (configuration key NumberOfConnectors)."""
        return await number_of_connectors(self.configuration, charge_point_id)

    async def _check_connector(
        self, charge_point_id: str, connector_id: int | None, *, allow_zero: bool
    ) -> None:
        await check_connector(
            self.configuration, charge_point_id, connector_id, allow_zero=allow_zero
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
        return await self._engine.call(charge_point_id, request)

    async def change_configuration(
        self, charge_point_id: str, key: str, value: str
    ) -> ChangeConfigurationResponse:
        """§5.3: set a key; the configuration store follows on Accepted or RebootRequired."""
        known = (await self.configuration.get(charge_point_id)).get(key)
        if known is not None and known.readonly:
            raise InvalidRequest(f"{key} is read-only on {charge_point_id!r}")
        request = build_request(ChangeConfigurationRequest, key=key, value=value)
        response = await self._engine.call(charge_point_id, request)
        accepted = (ConfigurationStatus.ACCEPTED, ConfigurationStatus.REBOOT_REQUIRED)
        # A secret (the Basic auth password) is write-only: never kept as a plain value.
        if response.status in accepted and key.casefold() not in SECRET_CONFIGURATION_KEYS:
            await self.configuration.set_value(charge_point_id, key, value)
        return response

    async def clear_cache(self, charge_point_id: str) -> ClearCacheResponse:
        """§5.4: clear the charge point's authorization cache."""
        return await self._engine.call(charge_point_id, ClearCacheRequest())

    async def get_configuration(
        self, charge_point_id: str, keys: Iterable[str] | None = None
    ) -> GetConfigurationResponse:
        """§5.8: read keys (all when ``keys`` is None); the reported ones are stored."""
        key_list = tuple(keys) if keys is not None else None
        request = build_request(GetConfigurationRequest, key=key_list or None)
        response = await self._engine.call(charge_point_id, request)
        if response.configuration_key:
            await self.configuration.put(charge_point_id, response.configuration_key)
        return response

    async def remote_start_transaction(
        self,
        charge_point_id: str,
        id_tag: str,
        *,
        connector_id: int | None = None,
        charging_profile: ChargingProfile | None = None,
    ) -> RemoteStartTransactionResponse:
        """§5.11: ask the charge point to start a transaction, optionally with a TxProfile
        (which the Smart Charging feature checks before it is sent)."""
        await self._check_connector(charge_point_id, connector_id, allow_zero=False)
        request = build_request(
            RemoteStartTransactionRequest,
            id_tag=id_tag,
            connector_id=connector_id,
            charging_profile=charging_profile,
        )
        return await self._engine.call(charge_point_id, request)

    async def remote_stop_transaction(
        self, charge_point_id: str, transaction_id: int
    ) -> RemoteStopTransactionResponse:
        """§5.12: ask the charge point to stop a transaction it runs."""
        record = await self.transactions.get(transaction_id)
        if record is not None and record.start.charge_point_id != charge_point_id:
            raise InvalidRequest(
                f"transaction {transaction_id} runs on {record.start.charge_point_id!r}, "
                f"not {charge_point_id!r}"
            )
        # One marked ended-unconfirmed may still run: the host may ask to stop it.
        if record is not None and record.stop is not None:
            raise InvalidRequest(f"transaction {transaction_id} has already stopped")
        request = build_request(RemoteStopTransactionRequest, transaction_id=transaction_id)
        return await self._engine.call(charge_point_id, request)

    async def reset(self, charge_point_id: str, reset_type: ResetType) -> ResetResponse:
        """§5.14: soft or hard reset."""
        return await self._engine.call(
            charge_point_id, build_request(ResetRequest, type=reset_type)
        )

    async def unlock_connector(
        self, charge_point_id: str, connector_id: int
    ) -> UnlockConnectorResponse:
        """§5.18: unlock a connector."""
        await self._check_connector(charge_point_id, connector_id, allow_zero=False)
        request = build_request(UnlockConnectorRequest, connector_id=connector_id)
        return await self._engine.call(charge_point_id, request)

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
        return await self._engine.call(charge_point_id, request)

    # -- transactions: energy and reconciliation ------------------------------------------------

    async def transaction_energy(self, transaction_id: int) -> EnergyResult | None:
        """The energy of a stored transaction, in Wh, from its meterStart, its meterStop (once
        stopped) and the meter values stored for it, as
        :func:`~ocpp16csms.profiles.core.transaction_energy` computes it (with the anomalies
        found). Without a stop (running, or ended-unconfirmed) it runs to the last reading.
        None for an unknown id."""
        record = await self.transactions.get(transaction_id)
        if record is None:
            return None
        start, stop = record.start, record.stop
        values = await self.transactions.meter_values(
            start.charge_point_id, transaction_id=transaction_id
        )
        return transaction_energy(
            start.meter_start,
            None if stop is None else stop.meter_stop,
            [v.meter_value for v in values],
            started_at=start.timestamp,
            stopped_at=None if stop is None else stop.timestamp,
        )

    async def check_stale_transactions(
        self, now: datetime | None = None
    ) -> list[TransactionRecord]:
        """Mark ended-unconfirmed every transaction whose charge point booted again, or whose
        connector reported Available, more than ``stale_transaction_grace`` seconds before
        ``now`` (default: the clock) without a StopTransaction since; return them. The
        central system runs this every ``stale_transaction_interval`` seconds."""
        return await self._stale.check(now)

    @property
    def stale_suspicions(self) -> tuple[StaleSuspicion, ...]:
        """The boots and Available statuses whose grace period is still running."""
        return self._stale.pending

    async def unconfirmed_transactions(
        self, charge_point_id: str | None = None
    ) -> list[TransactionRecord]:
        """Transactions marked ended-unconfirmed and not stopped since (to reconcile)."""
        return list(await self.transactions.unconfirmed(charge_point_id=charge_point_id))

    async def unmatched_stops(self, charge_point_id: str | None = None) -> list[UnmatchedStop]:
        """StopTransactions that closed no transaction, kept whole (errata 3.18)."""
        return list(await self.transactions.unmatched_stops(charge_point_id))

    # -- registration and DataTransfer routing -----------------------------------------------------

    async def accept_charge_point(self, charge_point_id: str) -> None:
        """Register the charge point as Accepted (its next BootNotification is accepted)."""
        record = await self.charge_points.get(charge_point_id)
        record = record or ChargePointRecord(charge_point_id=charge_point_id)
        await self.charge_points.save(
            attrs.evolve(record, registration_status=RegistrationStatus.ACCEPTED)
        )

    def data_transfer_handler(
        self, vendor_id: str, message_id: str | None = None
    ) -> Callable[[DataTransferHandler], DataTransferHandler]:
        """Decorator: answer inbound DataTransfer for ``vendor_id`` (and ``message_id``)."""

        def register(handler: DataTransferHandler) -> DataTransferHandler:
            self.handlers.register_data_transfer(vendor_id, message_id, handler)
            return handler

        return register
