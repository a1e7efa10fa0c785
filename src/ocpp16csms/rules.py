"""Every rule that moves protocol or domain state, as data (OCPP-J 1.6 §4, OCPP 1.6 §4.2, §5.13).

Like h11's ``_state.py``: the session and the central system look moves up here, and a move
that is not in a table is refused with an error that names the state and the event.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from .enums import RegistrationStatus
from .errors import LocalProtocolError

__all__ = [
    "ALLOWED_INBOUND_WHILE_NOT_ACCEPTED",
    "ALLOWED_OUTBOUND_WHILE_PENDING",
    "FINAL_STATES",
    "LIVE_STATES",
    "OUTBOUND_TRANSITIONS",
    "RESERVATION_TRANSITIONS",
    "OutboundEvent",
    "OutboundState",
    "ReservationEvent",
    "ReservationState",
    "next_outbound_state",
]


class OutboundState(Enum):
    """State of the central system's own CALLs on one connection.

    OCPP-J §4.1.1: a sender has at most one CALL waiting for its answer; later calls queue.
    """

    IDLE = "idle"
    AWAITING_ANSWER = "awaiting answer"
    CLOSED = "closed"


class OutboundEvent(Enum):
    """What can happen to the central system's CALL in flight."""

    SEND_CALL = "send CALL"
    ANSWER = "CALLRESULT or CALLERROR received"
    TIMEOUT = "answer timed out"
    CLOSE = "connection closed"


OUTBOUND_TRANSITIONS: dict[tuple[OutboundState, OutboundEvent], OutboundState] = {
    (OutboundState.IDLE, OutboundEvent.SEND_CALL): OutboundState.AWAITING_ANSWER,
    (OutboundState.AWAITING_ANSWER, OutboundEvent.ANSWER): OutboundState.IDLE,
    (OutboundState.AWAITING_ANSWER, OutboundEvent.TIMEOUT): OutboundState.IDLE,
    (OutboundState.IDLE, OutboundEvent.CLOSE): OutboundState.CLOSED,
    (OutboundState.AWAITING_ANSWER, OutboundEvent.CLOSE): OutboundState.CLOSED,
    (OutboundState.CLOSED, OutboundEvent.CLOSE): OutboundState.CLOSED,
}
"""(state, event) → next state. A SEND_CALL while AWAITING_ANSWER is queued, not a move."""


def next_outbound_state(state: OutboundState, event: OutboundEvent) -> OutboundState:
    """The state after ``event``; raise :class:`LocalProtocolError` for a move not in the table."""
    try:
        return OUTBOUND_TRANSITIONS[(state, event)]
    except KeyError:
        raise LocalProtocolError(
            f"cannot handle '{event.value}' in outbound state '{state.value}'"
        ) from None


ALLOWED_INBOUND_WHILE_NOT_ACCEPTED: dict[RegistrationStatus | None, frozenset[str]] = {
    # Never booted here, or rejected: only a BootNotification may change that (§4.2).
    None: frozenset({"BootNotification"}),
    RegistrationStatus.REJECTED: frozenset({"BootNotification"}),
    # Pending (§4.2.1): the central system may configure the charge point and trigger messages;
    # what those triggers ask for, and the security handshake (whitepaper §2.4), must get through.
    RegistrationStatus.PENDING: frozenset(
        {
            "BootNotification",
            "Heartbeat",
            "StatusNotification",
            "DiagnosticsStatusNotification",
            "FirmwareStatusNotification",
            "LogStatusNotification",
            "SecurityEventNotification",
            "SignCertificate",
            "SignedFirmwareStatusNotification",
            "DataTransfer",
        }
    ),
}
"""Inbound actions answered normally while the charge point is not Accepted; others get the
central system's not-accepted CallError."""

ALLOWED_OUTBOUND_WHILE_PENDING: frozenset[str] = frozenset(
    {
        "GetConfiguration",
        "ChangeConfiguration",
        "TriggerMessage",
        "ExtendedTriggerMessage",
        "DataTransfer",
        "CertificateSigned",
        "InstallCertificate",
        "DeleteCertificate",
        "GetInstalledCertificateIds",
    }
)
"""What the central system may send to a Pending charge point (§4.2.1: configuration and
triggers; the whitepaper's certificate operations). Nothing is sent before a BootNotification
or to a Rejected charge point."""


# -- the reservation lifecycle (OCPP 1.6 §3.11, §5.1, §5.13; docs/reservations.md) ----------


class ReservationState(StrEnum):
    """Where a reservation is in its lifecycle (see ``docs/reservations.md``)."""

    REQUESTED = "Requested"
    """Recorded and sent; no answer yet (or the answer was lost: timeout, connection lost)."""
    ACCEPTED = "Accepted"
    """The charge point answered ReserveNow with Accepted: it holds the reservation."""
    FAULTED = "Faulted"
    """ReserveNow answered Faulted."""
    OCCUPIED = "Occupied"
    """ReserveNow answered Occupied."""
    REJECTED = "Rejected"
    """ReserveNow answered Rejected."""
    UNAVAILABLE = "Unavailable"
    """ReserveNow answered Unavailable."""
    FAILED = "Failed"
    """ReserveNow was not delivered, or was answered with a CALLERROR: nothing was reserved."""
    USED = "Used"
    """A StartTransaction for the reservation's id tag (or its parent) used it."""
    CANCELLED = "Cancelled"
    """CancelReservation was answered Accepted."""
    EXPIRED = "Expired"
    """Its expiry date passed while it was requested or accepted."""


LIVE_STATES: frozenset[ReservationState] = frozenset(
    {ReservationState.REQUESTED, ReservationState.ACCEPTED}
)
"""States a reservation can still leave; every other state is final."""

FINAL_STATES: frozenset[ReservationState] = frozenset(ReservationState) - LIVE_STATES
"""States a reservation never leaves."""


class ReservationEvent(Enum):
    """What can happen to a reservation."""

    ANSWERED_ACCEPTED = "ReserveNow answered Accepted"
    ANSWERED_FAULTED = "ReserveNow answered Faulted"
    ANSWERED_OCCUPIED = "ReserveNow answered Occupied"
    ANSWERED_REJECTED = "ReserveNow answered Rejected"
    ANSWERED_UNAVAILABLE = "ReserveNow answered Unavailable"
    SEND_FAILED = "ReserveNow not delivered or answered with a CALLERROR"
    CANCELLED = "CancelReservation answered Accepted"
    USED = "StartTransaction used the reservation"
    EXPIRED = "expiry date passed"


_S, _E = ReservationState, ReservationEvent

RESERVATION_TRANSITIONS: dict[tuple[ReservationState, ReservationEvent], ReservationState] = {
    (_S.REQUESTED, _E.ANSWERED_ACCEPTED): _S.ACCEPTED,
    (_S.REQUESTED, _E.ANSWERED_FAULTED): _S.FAULTED,
    (_S.REQUESTED, _E.ANSWERED_OCCUPIED): _S.OCCUPIED,
    (_S.REQUESTED, _E.ANSWERED_REJECTED): _S.REJECTED,
    (_S.REQUESTED, _E.ANSWERED_UNAVAILABLE): _S.UNAVAILABLE,
    (_S.REQUESTED, _E.SEND_FAILED): _S.FAILED,
    # A requested reservation whose answer was lost may still be held by the charge point:
    # it can be cancelled, used and expired like an accepted one.
    (_S.REQUESTED, _E.CANCELLED): _S.CANCELLED,
    (_S.REQUESTED, _E.USED): _S.USED,
    (_S.REQUESTED, _E.EXPIRED): _S.EXPIRED,
    (_S.ACCEPTED, _E.CANCELLED): _S.CANCELLED,
    (_S.ACCEPTED, _E.USED): _S.USED,
    (_S.ACCEPTED, _E.EXPIRED): _S.EXPIRED,
}
"""(state, event) → next state. No entry starts from a final state."""
