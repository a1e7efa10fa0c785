"""Local Auth List Management profile messages (OCPP 1.6 §3.5, §5.10, §5.15)."""

# Annotations are evaluated: the constraints in them become validators (see constraints.py).
from ..datatypes import AuthorizationData
from ..enums import UpdateStatus, UpdateType
from .base import Direction, Profile, Request, Response, request, response

__all__ = [
    "GetLocalListVersionRequest",
    "GetLocalListVersionResponse",
    "SendLocalListRequest",
    "SendLocalListResponse",
]

_TO_CP = Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT
_LOCAL_LIST = Profile.LOCAL_AUTH_LIST_MANAGEMENT


@request("GetLocalListVersion", _TO_CP, _LOCAL_LIST)
class GetLocalListVersionRequest(Request["GetLocalListVersionResponse"]):
    """Asks for the version of the charge point's local authorization list (§5.10, §6.27)."""


@response(GetLocalListVersionRequest)
class GetLocalListVersionResponse(Response):
    """The list version: 0 for an empty list, -1 when local lists are not supported (§6.28)."""

    list_version: int


@request("SendLocalList", _TO_CP, _LOCAL_LIST)
class SendLocalListRequest(Request["SendLocalListResponse"]):
    """Replaces (Full) or updates (Differential) the local authorization list (§5.15, §6.43)."""

    list_version: int
    update_type: UpdateType
    local_authorization_list: tuple[AuthorizationData, ...] | None = None


@response(SendLocalListRequest)
class SendLocalListResponse(Response):
    """Whether the list was updated (§6.44)."""

    status: UpdateStatus
