"""Transactions whose StopTransaction never came: the rule, as pure functions.

After a hard reset a charge point need not stop its transactions first, and the StopTransaction
it sends after rebooting may be lost (errata v4.0 3.36, 3.82); a charge point that never got a
transaction id stops it with -1 (3.18). Left alone, such a transaction stays open for ever:
its id tag counts as busy, Smart Charging plans for it, billing never sees its end.

Two signs say a transaction has ended: its charge point **booted** again, or its connector
reported **Available**. Each is a :class:`StaleSuspicion` naming the transactions open when it
was seen; a MeterValues of one of them arriving afterwards clears it (:func:`clear_transaction`),
as some charge points send a BootNotification on every reconnection and go on charging. When a
``grace`` period has passed and a suspected transaction is still open (no StopTransaction
came), it is *ended-unconfirmed*: marked with its last meter reading (:func:`unconfirmed_end`),
never deleted, and a late StopTransaction still completes it.
No I/O and no clock here: time is passed in. ``docs/transactions.md`` has the story.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR

import attrs

from ...datatypes import MeterValue
from ...stores.records import TransactionRecord, UnconfirmedEnd, UnconfirmedEndCause
from .meter_values import transaction_energy

__all__ = [
    "StaleSuspicion",
    "clear_transaction",
    "is_due",
    "stale_transactions",
    "suspect_transactions",
    "unconfirmed_end",
]

# A register reading is stored as meterStop, an integer of Wh; one beyond what a 64-bit
# integer holds is no meter's and is not used.
_MAX_METER = 2**63 - 1


@attrs.frozen(kw_only=True)
class StaleSuspicion:
    """A sign, seen at ``observed_at`` (the central system's clock), that the transactions
    ``transaction_ids`` of a charge point ended: a boot (``connector_id`` None) or their
    connector reporting Available."""

    charge_point_id: str
    cause: UnconfirmedEndCause
    observed_at: datetime
    transaction_ids: frozenset[int]
    connector_id: int | None = None


def suspect_transactions(
    charge_point_id: str,
    cause: UnconfirmedEndCause,
    observed_at: datetime,
    transactions: Iterable[TransactionRecord],
    *,
    connector_id: int | None = None,
) -> StaleSuspicion | None:
    """The suspicion raised at ``observed_at`` over the active ``transactions`` of the charge
    point (on ``connector_id`` when given: a connector that became Available); None when no
    transaction is concerned."""
    ids = frozenset(
        record.transaction_id
        for record in transactions
        if record.active
        and record.start.charge_point_id == charge_point_id
        and (connector_id is None or record.start.connector_id == connector_id)
    )
    if not ids:
        return None
    return StaleSuspicion(
        charge_point_id=charge_point_id,
        cause=cause,
        observed_at=observed_at,
        transaction_ids=ids,
        connector_id=connector_id,
    )


def clear_transaction(suspicion: StaleSuspicion, transaction_id: int) -> StaleSuspicion | None:
    """The suspicion without ``transaction_id``, which has shown it still runs (a MeterValues
    of it arrived after the sign); None when no transaction is left."""
    ids = suspicion.transaction_ids - {transaction_id}
    if not ids:
        return None
    return attrs.evolve(suspicion, transaction_ids=ids)


def is_due(suspicion: StaleSuspicion, now: datetime, grace: timedelta) -> bool:
    """Whether the grace period after the suspicion has passed at ``now`` (inclusive)."""
    return now >= suspicion.observed_at + grace


def stale_transactions(
    suspicion: StaleSuspicion,
    transactions: Iterable[TransactionRecord],
    now: datetime,
    grace: timedelta,
) -> tuple[TransactionRecord, ...]:
    """Of ``transactions`` (as stored now), those to mark ended-unconfirmed at ``now``: the
    suspected ones still active once the grace period has passed, in id order; none before."""
    if not is_due(suspicion, now, grace):
        return ()
    stale = {
        record.transaction_id: record
        for record in transactions
        if record.transaction_id in suspicion.transaction_ids
        and record.start.charge_point_id == suspicion.charge_point_id
        and record.active
    }
    return tuple(stale[i] for i in sorted(stale))


def unconfirmed_end(
    record: TransactionRecord,
    meter_values: Iterable[MeterValue],
    *,
    cause: UnconfirmedEndCause,
    detected_at: datetime,
) -> UnconfirmedEnd:
    """How ``record`` is taken to have ended: at its last Energy.Active.Import.Register
    reading among ``meter_values`` (the latest by time, in Wh rounded down, as
    :func:`~ocpp16csms.profiles.core.transaction_energy` reads them), else at meterStart and
    its start time."""
    start = record.start
    end = transaction_energy(start.meter_start, None, meter_values, started_at=start.timestamp).end
    value = end.value.to_integral_value(rounding=ROUND_FLOOR)
    if end.timestamp is None or not 0 <= value <= _MAX_METER:
        return UnconfirmedEnd(
            meter_stop=start.meter_start,
            timestamp=start.timestamp,
            cause=cause,
            detected_at=detected_at,
        )
    return UnconfirmedEnd(
        meter_stop=int(value), timestamp=end.timestamp, cause=cause, detected_at=detected_at
    )
