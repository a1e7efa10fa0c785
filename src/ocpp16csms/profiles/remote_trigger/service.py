"""The Remote Trigger profile's service: TriggerMessage and ExtendedTriggerMessage (§5.17).

Errata v4.0 3.40 (with 3.35): once the central system has answered a BootNotification with
Accepted, it shall not ask for another BootNotification until the charge point sends one of its
own. A pre-send check refuses such a trigger, whoever sends it (``docs/errata.md``).
"""

from __future__ import annotations

from ...checks import build_request, check_connector
from ...engine import Engine
from ...enums import MessageTrigger, MessageTriggerExtended, RegistrationStatus
from ...errors import InvalidRequest
from ...messages.remote_trigger import TriggerMessageRequest, TriggerMessageResponse
from ...messages.security import ExtendedTriggerMessageRequest, ExtendedTriggerMessageResponse
from ...stores.records import ConfigurationStore

__all__ = ["RemoteTriggerService"]

# Triggers whose answer is about one connector may name it; the others concern the whole
# charge point, so a connector id with them is a caller's mistake (§5.17).
_CONNECTOR_TRIGGERS = frozenset({"MeterValues", "StatusNotification"})


class RemoteTriggerService:
    """Remote Trigger (``central_system.remote_trigger``): ask a charge point to send a
    message now, with the checks made before sending."""

    def __init__(self, engine: Engine, *, configuration: ConfigurationStore) -> None:
        self._engine = engine
        self._configuration = configuration
        engine.add_pre_send_check(TriggerMessageRequest, self._check_boot_trigger)
        engine.add_pre_send_check(ExtendedTriggerMessageRequest, self._check_boot_trigger)

    async def trigger_message(
        self,
        charge_point_id: str,
        requested_message: MessageTrigger,
        *,
        connector_id: int | None = None,
    ) -> TriggerMessageResponse:
        """§5.17: ask the charge point to send a message now.

        Refused before sending (:class:`~ocpp16csms.errors.InvalidRequest`): a connector id
        with a message about the whole charge point, a connector the charge point did not
        report, and a BootNotification while the connection is Accepted (errata 3.40).
        """
        await self._check_trigger(charge_point_id, requested_message.value, connector_id)
        request = build_request(
            TriggerMessageRequest, requested_message=requested_message, connector_id=connector_id
        )
        return await self._engine.call(charge_point_id, request)

    async def extended_trigger_message(
        self,
        charge_point_id: str,
        requested_message: MessageTriggerExtended,
        *,
        connector_id: int | None = None,
    ) -> ExtendedTriggerMessageResponse:
        """Security whitepaper §5.5: TriggerMessage with the security messages added, refused
        as :meth:`trigger_message` is."""
        await self._check_trigger(charge_point_id, requested_message.value, connector_id)
        request = build_request(
            ExtendedTriggerMessageRequest,
            requested_message=requested_message,
            connector_id=connector_id,
        )
        return await self._engine.call(charge_point_id, request)

    async def _check_trigger(
        self, charge_point_id: str, requested: str, connector_id: int | None
    ) -> None:
        if connector_id is not None and requested not in _CONNECTOR_TRIGGERS:
            raise InvalidRequest(f"{requested} concerns the whole charge point; no connector id")
        await check_connector(self._configuration, charge_point_id, connector_id, allow_zero=False)

    async def _check_boot_trigger(
        self,
        charge_point_id: str,
        request: TriggerMessageRequest | ExtendedTriggerMessageRequest,
    ) -> None:
        requested = request.requested_message
        name = (
            requested.value
            if isinstance(requested, MessageTrigger | MessageTriggerExtended)
            else requested
        )
        if (
            name == MessageTrigger.BOOT_NOTIFICATION.value
            and self._engine.registration(charge_point_id) is RegistrationStatus.ACCEPTED
        ):
            # Errata 3.40: the charge point is RECOMMENDED to reject it anyway (3.35), and a
            # new answer other than Accepted would leave its running transactions in doubt.
            raise InvalidRequest(
                f"{charge_point_id!r} is Accepted: a BootNotification may not be triggered "
                "until it sends one itself (OCPP 1.6 errata 3.40)"
            )
