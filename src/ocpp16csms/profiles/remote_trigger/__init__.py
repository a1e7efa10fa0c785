"""The Remote Trigger profile (§5.17): TriggerMessage and the security whitepaper's
ExtendedTriggerMessage."""

from ...messages.remote_trigger import (
    TriggerMessageRequest,
    TriggerMessageResponse,
)
from .service import (
    RemoteTriggerService,
)

__all__ = [
    "RemoteTriggerService",
    "TriggerMessageRequest",
    "TriggerMessageResponse",
]
