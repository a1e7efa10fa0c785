"""Reservation (§5.1, §5.13): messages, the reservation lifecycle, its store, and the service."""

from ...messages.reservation import (
    CancelReservationRequest,
    CancelReservationResponse,
    ReserveNowRequest,
    ReserveNowResponse,
)
from .lifecycle import (
    FINAL_STATES,
    LIVE_STATES,
    RESERVATION_TRANSITIONS,
    ReservationEvent,
    ReservationRecord,
    ReservationState,
    ReservationTransitionError,
    ReservationView,
    event_for_answer,
    expire_reservations,
    is_due_for_expiry,
    move_reservation,
    new_reservation,
    reservation_matches,
    view_reservation,
)
from .service import (
    ReservationService,
)
from .store import (
    MemoryReservationStore,
    ReservationStore,
)

__all__ = [
    "FINAL_STATES",
    "LIVE_STATES",
    "RESERVATION_TRANSITIONS",
    "CancelReservationRequest",
    "CancelReservationResponse",
    "MemoryReservationStore",
    "ReservationEvent",
    "ReservationRecord",
    "ReservationService",
    "ReservationState",
    "ReservationStore",
    "ReservationTransitionError",
    "ReservationView",
    "ReserveNowRequest",
    "ReserveNowResponse",
    "event_for_answer",
    "expire_reservations",
    "is_due_for_expiry",
    "move_reservation",
    "new_reservation",
    "reservation_matches",
    "view_reservation",
]
