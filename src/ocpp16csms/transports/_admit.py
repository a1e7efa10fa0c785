"""The handshake step every adapter shares: look the charge point up, then decide."""

from __future__ import annotations

import functools

import anyio.to_thread

from .._logging import get_logger
from ..central_system import CentralSystem
from .handshake import (
    HandshakeOptions,
    HandshakeRefused,
    Peer,
    charge_point_id_from_path,
    decide,
    password_check_needed,
)

__all__ = ["admit", "report_refusal"]

log = get_logger("ocpp16csms.transports")


async def admit(
    central_system: CentralSystem, peer: Peer, options: HandshakeOptions
) -> tuple[str, str | None]:
    """(charge point id, subprotocol) for an upgrade, or raise :class:`HandshakeRefused`.

    A store failure is refused with 503 (and logged) so the charge point retries later. An
    unknown charge point meets the central system's ``unknown_charge_points`` policy here
    (:func:`~ocpp16csms.transports.handshake.unknown_charge_points_allowed`).
    """
    charge_point_id = charge_point_id_from_path(peer.path, options)
    try:
        record = await central_system.stores.charge_points.get(charge_point_id)
    except Exception:
        log.exception("charge point store failed during the handshake of %r", peer.path)
        raise HandshakeRefused(503, "try again later", "store_unavailable") from None
    check = functools.partial(decide, unknown_policy=central_system.options.unknown_charge_points)
    if password_check_needed(record, options):
        # Password hashing is deliberately slow: keep it off the event loop.
        return await anyio.to_thread.run_sync(check, peer, record, options)
    return check(peer, record, options)


def report_refusal(central_system: CentralSystem, refused: HandshakeRefused) -> None:
    """Tell the central system's instrumentation, if any, that an upgrade was refused."""
    if central_system.instrumentation is not None:
        central_system.instrumentation.handshake_refused(refused.status, refused.cause)
