"""Reservation profile messages (OCPP 1.6 §5.7, §5.13)."""

# Annotations are evaluated: the constraints in them become validators (see constraints.py).
from datetime import datetime

from ..constraints import CiString20, ConnectorId
from ..enums import CancelReservationStatus, ReservationStatus
from .base import Direction, Profile, Request, Response, request, response

__all__ = [
    "CancelReservationRequest",
    "CancelReservationResponse",
    "ReserveNowRequest",
    "ReserveNowResponse",
]

_TO_CP = Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT
_RESERVATION = Profile.RESERVATION


@request("CancelReservation", _TO_CP, _RESERVATION)
class CancelReservationRequest(Request["CancelReservationResponse"]):
    """Cancels a reservation (§5.1, §6.13)."""

    reservation_id: int


@response(CancelReservationRequest)
class CancelReservationResponse(Response):
    """Whether the reservation was cancelled (§6.14)."""

    status: CancelReservationStatus


@request("ReserveNow", _TO_CP, _RESERVATION)
class ReserveNowRequest(Request["ReserveNowResponse"]):
    """Reserves a connector (0: any connector) for an identifier until ``expiry_date`` (§6.39)."""

    connector_id: ConnectorId
    expiry_date: datetime
    id_tag: CiString20
    reservation_id: int
    parent_id_tag: CiString20 | None = None


@response(ReserveNowRequest)
class ReserveNowResponse(Response):
    """Whether the reservation was made, and if not why (§6.40)."""

    status: ReservationStatus
