"""Firmware, diagnostics, log transfers and security events are kept in the device-state store."""

from __future__ import annotations

import json
from datetime import UTC, timedelta, timezone

import pytest

from harness import T0, connected, make_central_system, wait_until
from ocpp16csms import CallErrorReceived, CentralSystem, memory_stores
from ocpp16csms.messages import (
    DiagnosticsStatus,
    DiagnosticsStatusNotificationRequest,
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    GetDiagnosticsResponse,
    GetLogResponse,
    LogParameters,
    LogStatusNotificationRequest,
    LogType,
    RegistrationStatus,
    SecurityEventNotificationRequest,
    UploadLogStatus,
)
from ocpp16csms.stores import ChargePointRecord
from ocpp16csms.stores.device_state import (
    MemoryDeviceStateStore,
    SecurityEventRecord,
    TransferKind,
)

pytestmark = pytest.mark.anyio


def _stores() -> tuple[object, MemoryDeviceStateStore]:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
            )
        ]
    )
    assert isinstance(stores.device_state, MemoryDeviceStateStore)
    return stores, stores.device_state


async def test_requests_and_statuses_are_kept() -> None:
    stores, state = _stores()
    cs = make_central_system(stores=stores)  # type: ignore[arg-type]
    async with connected(cs) as cp:
        cp.answer("GetDiagnostics", GetDiagnosticsResponse(file_name="diag.zip"))
        cp.answer("GetLog", GetLogResponse(status="Accepted", filename="log.tgz"))  # type: ignore[arg-type]
        await cs.firmware.update_firmware("CP1", "https://fw.example.com/a.bin", T0, retries=2)
        await cs.firmware.get_diagnostics("CP1", "ftp://diag.example.com/in/")
        await cs.security.get_log(
            "CP1",
            log_type=LogType.SECURITY_LOG,
            request_id=7,
            log=LogParameters(remote_location="https://logs.example.com/up/"),
        )
        await cp.call(FirmwareStatusNotificationRequest(status=FirmwareStatus.DOWNLOADING))
        await cp.call(DiagnosticsStatusNotificationRequest(status=DiagnosticsStatus.UPLOADED))
        await cp.call(LogStatusNotificationRequest(status=UploadLogStatus.UPLOADING, request_id=7))
    firmware = await state.request("CP1", TransferKind.FIRMWARE, None)
    assert firmware is not None
    assert (firmware.location, firmware.retrieve_date, firmware.retries) == (
        "https://fw.example.com/a.bin",
        T0,
        2,
    )
    diagnostics = await state.request("CP1", TransferKind.DIAGNOSTICS, None)
    assert diagnostics is not None
    assert diagnostics.file_name == "diag.zip"
    log_request = await state.request("CP1", TransferKind.LOG, 7)
    assert log_request is not None
    assert (log_request.log_type, log_request.file_name) == (LogType.SECURITY_LOG, "log.tgz")
    status = await state.latest_status("CP1", TransferKind.FIRMWARE)
    assert status is not None
    assert status.status is FirmwareStatus.DOWNLOADING
    diagnostics_status = await state.latest_status("CP1", TransferKind.DIAGNOSTICS)
    assert diagnostics_status is not None
    assert diagnostics_status.status is DiagnosticsStatus.UPLOADED
    log_status = await state.status("CP1", TransferKind.LOG, 7)
    assert log_status is not None
    assert log_status.status is UploadLogStatus.UPLOADING


async def test_a_security_event_is_kept_before_it_is_acknowledged() -> None:
    stores, state = _stores()
    cs = make_central_system(stores=stores)  # type: ignore[arg-type]
    event = SecurityEventNotificationRequest(
        type="InvalidFirmwareSignature", timestamp=T0 - timedelta(minutes=1), tech_info="key 3"
    )
    async with connected(cs) as cp:
        await cp.call(event)
        kept = await state.security_events("CP1")
        assert kept == [
            SecurityEventRecord(
                charge_point_id="CP1",
                type="InvalidFirmwareSignature",
                timestamp=T0 - timedelta(minutes=1),
                tech_info="key 3",
                received_at=kept[0].received_at,
            )
        ]

        async def broken(*args: object, **kwargs: object) -> bool:
            raise OSError("disk full")

        state.add_security_event = broken  # type: ignore[method-assign]
        with pytest.raises(CallErrorReceived) as raised:
            await cp.call(event)
        assert raised.value.code == "InternalError"  # the charge point will retry
    await wait_until(lambda: not cs.is_connected("CP1"))


async def test_a_request_the_store_cannot_keep_is_logged_and_the_operation_still_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stores, state = _stores()
    cs = make_central_system(stores=stores)  # type: ignore[arg-type]

    async def broken(request: object) -> None:
        raise OSError("disk full")

    state.record_request = broken  # type: ignore[method-assign]
    async with connected(cs) as cp:
        cp.answer("GetDiagnostics", GetDiagnosticsResponse(file_name="diag.zip"))
        answer = await cs.firmware.get_diagnostics("CP1", "ftp://diag.example.com/in/")
    assert answer.file_name == "diag.zip"  # the charge point has it: no error to retry on
    assert any("could not store the Diagnostics request" in r.getMessage() for r in caplog.records)


_ZONES = {
    "UTC": UTC,
    "+02:00": timezone(timedelta(hours=2)),
    "-05:30": timezone(-timedelta(hours=5, minutes=30)),
}


@pytest.mark.parametrize("clock_zone", list(_ZONES))
@pytest.mark.parametrize("event_zone", list(_ZONES))
async def test_status_and_event_records_are_what_their_classes_build(
    clock_zone: str, event_zone: str
) -> None:
    """The records kept from notifications (built without their checks in the usual, UTC
    case) equal what their constructors build, whatever zone the clock and the charge point
    use."""
    from ocpp16csms.profiles.firmware.service import DiagnosticsStatusReport, FirmwareStatusReport
    from ocpp16csms.stores.device_state import TransferStatus

    stores, state = _stores()
    now = T0.astimezone(_ZONES[clock_zone])
    cs = CentralSystem(stores, clock=lambda: now)  # type: ignore[arg-type]
    stamp = (T0 - timedelta(minutes=1)).astimezone(_ZONES[event_zone])
    async with connected(cs) as cp:
        await cp.call(FirmwareStatusNotificationRequest(status=FirmwareStatus.INSTALLED))
        await cp.call(DiagnosticsStatusNotificationRequest(status=DiagnosticsStatus.UPLOADED))
        # Raw: the simulator writes date-times in UTC, and this one is in the event's zone.
        payload = {"type": "FirmwareUpdated", "timestamp": stamp.isoformat(), "techInfo": "x"}
        await cp.send_raw(json.dumps([2, "ev1", "SecurityEventNotification", payload]))
        await wait_until(lambda: bool(state._events))
    firmware = await state.status("CP1", TransferKind.FIRMWARE)
    built = TransferStatus(
        charge_point_id="CP1",
        kind=TransferKind.FIRMWARE,
        status=FirmwareStatus.INSTALLED,
        received_at=now,
    )
    assert firmware == built
    assert repr(firmware) == repr(built)
    assert cs.firmware.firmware_status("CP1") == FirmwareStatusReport(
        status=FirmwareStatus.INSTALLED, signed=False, received_at=now
    )
    assert cs.firmware.diagnostics_status("CP1") == DiagnosticsStatusReport(
        status=DiagnosticsStatus.UPLOADED, received_at=now
    )
    events = await state.security_events("CP1")
    expected = SecurityEventRecord(
        charge_point_id="CP1",
        type="FirmwareUpdated",
        timestamp=stamp,
        tech_info="x",
        received_at=now,
    )
    assert events == [expected]
    assert repr(events[0]) == repr(expected)


async def test_a_naive_clock_still_fails_the_records_check() -> None:
    """A host clock giving naive date-times is refused where the record checks its instant:
    the notification is answered InternalError and nothing is kept (the checks skipped for
    UTC values still run for any other)."""
    stores, state = _stores()

    naive = T0.replace(tzinfo=None)
    cs = CentralSystem(stores, clock=lambda: naive)  # type: ignore[arg-type]
    async with connected(cs) as cp:
        with pytest.raises(CallErrorReceived) as raised:
            await cp.call(DiagnosticsStatusNotificationRequest(status=DiagnosticsStatus.UPLOADED))
        assert raised.value.code == "InternalError"
        with pytest.raises(CallErrorReceived):
            await cp.call(SecurityEventNotificationRequest(type="FirmwareUpdated", timestamp=T0))
    assert await state.latest_status("CP1", TransferKind.DIAGNOSTICS) is None
    assert await state.security_events("CP1") == []
