"""Valid means storable (issue #11, item 3): every value that passes validation is kept by
every shipped store and read back unchanged: lone surrogates in any string, integers across
the signed 64-bit range, instants at the ends of what ``datetime`` holds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    Stores,
    memory_connection_pair,
    memory_stores,
)
from ocpp16csms.datatypes import KeyValue, MeterValue, SampledValue
from ocpp16csms.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Reason,
    RegistrationStatus,
)
from ocpp16csms.stores import (
    BootInfo,
    ConnectorStatus,
    IdTagRecord,
    TransactionStart,
    TransactionStop,
)
from ocpp16csms.stores.sqlite import sqlite_stores

pytestmark = pytest.mark.anyio

BIG = 2**63 - 1
SMALL = -(2**63)
ODD = "x\ud800y\udfff"  # lone surrogates: valid JSON ("\ud800"), not valid UTF-8
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


@asynccontextmanager
async def each_store(kind: str, tmp_path: Path) -> AsyncIterator[Stores]:
    if kind == "memory":
        yield memory_stores()
    else:
        async with sqlite_stores(tmp_path / "hostile.sqlite3") as stores:
            yield stores


@pytest.fixture(params=["memory", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_lone_surrogates_and_64_bit_integers_are_kept_and_read_back(
    kind: str, tmp_path: Path
) -> None:
    async with each_store(kind, tmp_path) as stores:
        record = ChargePointRecord(
            charge_point_id="CP1",
            registration_status=RegistrationStatus.ACCEPTED,
            boot=BootInfo(charge_point_vendor=ODD, charge_point_model="M" + ODD, iccid=ODD),
            last_boot_at=LATEST,
            last_seen=EARLIEST,
        )
        await stores.charge_points.save(record)
        assert await stores.charge_points.get("CP1") == record
        status = ConnectorStatus(
            connector_id=BIG,
            status=ChargePointStatus.FAULTED,
            error_code=ChargePointErrorCode.OTHER_ERROR,
            timestamp=LATEST,
            info=ODD,
            vendor_id=ODD,
            vendor_error_code=ODD,
        )
        assert await stores.charge_points.set_connector_status("CP1", status)
        assert (await stores.charge_points.connector_statuses("CP1"))[BIG] == status

        tag = IdTagRecord(id_tag=ODD, expiry_date=EARLIEST, parent_id_tag=ODD)
        await stores.id_tags.save(tag)
        assert await stores.id_tags.get(ODD) == tag

        start = TransactionStart(
            charge_point_id="CP1",
            connector_id=BIG,
            id_tag=ODD,
            meter_start=SMALL,
            timestamp=EARLIEST,
            reservation_id=BIG,
        )
        transaction, created = await stores.transactions.start(start)
        assert created
        again, created_again = await stores.transactions.start(start)
        assert (again, created_again) == (transaction, False)
        assert [t.transaction_id for t in await stores.transactions.active(id_tag=ODD)] == [
            transaction.transaction_id
        ]
        stop = TransactionStop(meter_stop=BIG, timestamp=LATEST, reason=Reason.OTHER, id_tag=ODD)
        stopped = await stores.transactions.stop(transaction.transaction_id, stop)
        assert stopped is not None
        assert stopped.stop == stop
        assert await stores.transactions.get(transaction.transaction_id) == stopped

        value = MeterValue(
            timestamp=LATEST, sampled_value=(SampledValue(value=ODD), SampledValue(value="2"))
        )
        # transactionId 2**63-1: what chargers send in MeterValues when they have no id.
        assert await stores.transactions.add_meter_values("CP1", BIG, BIG, [value]) == 1
        assert await stores.transactions.add_meter_values("CP1", BIG, BIG, [value]) == 0
        kept = await stores.transactions.meter_values("CP1", transaction_id=BIG)
        assert [(v.connector_id, v.transaction_id, v.meter_value) for v in kept] == [
            (BIG, BIG, value)
        ]

        key = KeyValue(key=ODD, readonly=False, value=ODD)
        await stores.configuration.put("CP1", [key])
        assert (await stores.configuration.get("CP1"))[ODD] == key


async def test_surrogates_are_not_confused_with_their_escaped_spelling(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path / "s.sqlite3") as stores:
        await stores.id_tags.save(IdTagRecord(id_tag="\ud800"))
        assert await stores.id_tags.get("\\ud800") is None
        await stores.id_tags.save(IdTagRecord(id_tag="\\ud800"))
        assert (await stores.id_tags.get("\\ud800")) == IdTagRecord(id_tag="\\ud800")
        assert (await stores.id_tags.get("\ud800")) == IdTagRecord(id_tag="\ud800")


# --- through the central system: no valid message meets InternalError -----------------------


def hostile_calls() -> list[list[Any]]:
    when = "9999-12-31T22:00:00-01:00"  # the UTC instant is 23:00 on the last day
    meter = [{"timestamp": when, "sampledValue": [{"value": ODD, "unit": "Wh"}]}]
    return [
        [2, "b", "BootNotification", {"chargePointVendor": ODD, "chargePointModel": ODD}],
        [
            2,
            "s",
            "StatusNotification",
            {
                "connectorId": BIG,
                "errorCode": "OtherError",
                "status": "Faulted",
                "info": ODD,
                "timestamp": "0001-01-01T00:00:00z",
            },
        ],
        [2, "a", "Authorize", {"idTag": ODD}],
        [
            2,
            "t",
            "StartTransaction",
            {"connectorId": 1, "idTag": ODD, "meterStart": SMALL, "timestamp": when},
        ],
        [2, "m", "MeterValues", {"connectorId": 1, "transactionId": BIG, "meterValue": meter}],
        [2, "d", "DataTransfer", {"vendorId": ODD, "messageId": ODD, "data": ODD}],
        [2, "f", "FirmwareStatusNotification", {"status": "Idle"}],
        [
            2,
            "l",
            "StartTransaction",
            {"connectorId": 2, "idTag": "T", "meterStart": 0, "timestamp": "2016-12-31T23:59:60Z"},
        ],
    ]


async def exchange(cs: CentralSystem, frames: list[list[Any]]) -> dict[str, list[Any]]:
    """Send each frame (ensure_ascii, as a charge point would escape them) and collect replies."""
    ours, theirs = memory_connection_pair()
    replies: dict[str, list[Any]] = {}
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, ours, "CP1")
        for frame in frames:
            await theirs.send(json.dumps(frame))
            with anyio.fail_after(5):
                reply = json.loads(await theirs.receive())
            replies[reply[1]] = reply
        await theirs.close()
    return replies


async def test_hostile_but_valid_messages_are_all_answered_and_kept(
    kind: str, tmp_path: Path
) -> None:
    async with each_store(kind, tmp_path) as stores:
        await stores.charge_points.save(
            ChargePointRecord(
                charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
            )
        )
        await stores.id_tags.save(IdTagRecord(id_tag=ODD, status=AuthorizationStatus.ACCEPTED))
        cs = CentralSystem(stores, CentralSystemOptions(handler_grace=1.0))
        replies = await exchange(cs, hostile_calls())
        assert {k: v[0] for k, v in replies.items()} == dict.fromkeys("bsatmdfl", 3), replies
        assert replies["a"][2]["idTagInfo"]["status"] == "Accepted"
        record = await stores.charge_points.get("CP1")
        assert record is not None
        assert record.boot is not None
        assert record.boot.charge_point_vendor == ODD
        (active,) = await stores.transactions.active(id_tag=ODD)
        assert active.start.meter_start == SMALL
        kept = await stores.transactions.meter_values("CP1", transaction_id=BIG)
        assert [v.meter_value.sampled_value[0].value for v in kept] == [ODD]
