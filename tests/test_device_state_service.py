"""Firmware, diagnostics, log transfers and security events are kept in the device-state store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from harness import T0, connected, make_central_system, wait_until
from ocpp16csms import CallErrorReceived, memory_stores
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
