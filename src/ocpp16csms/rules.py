"""Every rule that moves OCPP-J protocol state, as data (OCPP-J 1.6 §4, OCPP 1.6 §4.2).

Like h11's ``_state.py``: the session and the central system look moves up here, and a move
that is not in a table is refused with an error that names the state and the event.
"""

from __future__ import annotations

from enum import Enum

from .enums import RegistrationStatus

__all__ = [
    "ALLOWED_INBOUND_WHILE_NOT_ACCEPTED",
    "ALLOWED_OUTBOUND_WHILE_PENDING",
    "OUTBOUND_TRANSITIONS",
    "LocalProtocolError",
    "OutboundEvent",
    "OutboundState",
    "next_outbound_state",
]


class LocalProtocolError(RuntimeError):
    """The caller used a session in a way the protocol does not allow (our side's mistake)."""


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
