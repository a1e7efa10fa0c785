"""Remote Trigger profile messages (OCPP 1.6 §5.17)."""

# Annotations are evaluated: the constraints in them become validators (see constraints.py).
from ..constraints import PositiveConnectorId
from ..enums import MessageTrigger, TriggerMessageStatus
from .base import Direction, Profile, Request, Response, request, response

__all__ = ["TriggerMessageRequest", "TriggerMessageResponse"]


@request("TriggerMessage", Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT, Profile.REMOTE_TRIGGER)
class TriggerMessageRequest(Request["TriggerMessageResponse"]):
    """Asks the charge point to send a message now (§5.17, §6.53)."""

    requested_message: MessageTrigger
    connector_id: PositiveConnectorId | None = None


@response(TriggerMessageRequest)
class TriggerMessageResponse(Response):
    """Whether the charge point will send the message (§6.54)."""

    status: TriggerMessageStatus
