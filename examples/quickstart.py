"""Quickstart: a central system and a simulated charge point running one charging session.

    python examples/quickstart.py

The central system uses the in-memory stores, seeded with one charge point and one id tag;
the charge point is the library's simulator, connected through an in-memory connection (the
transport adapters plug the same CentralSystem into a WebSocket server). Every message is
printed as a readable transcript.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from ocpp16csms import (
    AuthorizeRequest,
    BootNotificationRequest,
    CentralSystem,
    ChargePointErrorCode,
    ChargePointRecord,
    ChargePointStatus,
    Direction,
    Exchange,
    HeartbeatRequest,
    IdTagRecord,
    Measurand,
    MessageCodec,
    MessageTrigger,
    MeterValue,
    MeterValuesRequest,
    Reason,
    RegistrationStatus,
    SampledValue,
    StartTransactionRequest,
    StatusNotificationRequest,
    StopTransactionRequest,
    UnitOfMeasure,
    memory_stores,
)
from ocpp16csms.testing import ChargePointSimulator, memory_connection_pair

CODEC = MessageCodec()
CHARGE_POINT = "CP-DEMO-1"
ID_TAG = "DEMO-TAG"


def transcript(event: Any) -> None:
    """Print each exchange as its wire payloads, the way an operator would read them."""
    if not isinstance(event, Exchange):
        print(f"   ·  {type(event).__name__} {event.charge_point_id}")
        return
    sender = "CP" if event.direction is Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM else "CS"
    answerer = "CS" if sender == "CP" else "CP"
    print(f"{sender} → {event.request.action} {_wire(event.request)}")
    answer = _wire(event.response) if event.error is None else f"error: {event.error}"
    print(f"  {answerer} ← {answer}")


def _wire(message: Any, limit: int = 100) -> str:
    text = json.dumps(CODEC.encode(message), separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def energy(wh: int, at: datetime) -> MeterValue:
    return MeterValue(
        timestamp=at,
        sampled_value=(
            SampledValue(
                value=str(wh),
                measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                unit=UnitOfMeasure.WH,
            ),
        ),
    )


async def charge_point_session(cp: ChargePointSimulator, cs: CentralSystem) -> None:
    now = datetime.now(UTC)
    boot = await cp.call(
        BootNotificationRequest(charge_point_vendor="Acme", charge_point_model="Volt 22")
    )
    assert boot.status is RegistrationStatus.ACCEPTED
    await cp.call(
        StatusNotificationRequest(
            connector_id=1,
            error_code=ChargePointErrorCode.NO_ERROR,
            status=ChargePointStatus.AVAILABLE,
            timestamp=now,
        )
    )
    await cp.call(HeartbeatRequest())
    await cp.call(AuthorizeRequest(id_tag=ID_TAG))
    started = await cp.call(
        StartTransactionRequest(connector_id=1, id_tag=ID_TAG, meter_start=0, timestamp=now)
    )
    # The central system drives the charge point while it charges.
    await cs.get_configuration(CHARGE_POINT)
    await cs.change_configuration(CHARGE_POINT, "MeterValueSampleInterval", "30")
    await cs.trigger_message(CHARGE_POINT, MessageTrigger.STATUS_NOTIFICATION, connector_id=1)
    for minute in (1, 2, 3):
        await cp.call(
            MeterValuesRequest(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=(energy(minute * 180, now + timedelta(minutes=minute)),),
            )
        )
    await cs.remote_stop_transaction(CHARGE_POINT, started.transaction_id)
    await cp.call(
        StopTransactionRequest(
            transaction_id=started.transaction_id,
            meter_stop=540,
            timestamp=now + timedelta(minutes=4),
            reason=Reason.REMOTE,
        )
    )


async def main() -> None:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id=CHARGE_POINT, registration_status=RegistrationStatus.ACCEPTED
            )
        ],
        id_tags=[IdTagRecord(id_tag=ID_TAG)],
    )
    cs = CentralSystem(stores)
    cs.observe(transcript)
    cs_end, cp_end = memory_connection_pair()
    cp = ChargePointSimulator(CHARGE_POINT, cp_end)
    cp.configuration["MeterValueSampleInterval"] = ("60", False)
    async with cs, anyio.create_task_group() as group:
        group.start_soon(cs.serve, cs_end, CHARGE_POINT)
        async with cp.running():
            await charge_point_session(cp, cs)
    record = (await stores.transactions.active(charge_point_id=CHARGE_POINT)) or None
    values = await stores.transactions.meter_values(CHARGE_POINT)
    print(f"\nactive transactions left: {record}; meter values stored: {len(values)}")
    print("the session completed.")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    anyio.run(main)
