"""Desired configuration and the outbox (profiles/core/desired_configuration.py, outbox.py)."""

from __future__ import annotations

import pytest

from harness import BOOT, connected, make_central_system, wait_until
from ocpp16csms.errors import ErrorCode
from ocpp16csms.messages import (
    BootNotificationRequest,
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    ConfigurationStatus,
    GetConfigurationRequest,
    ResetRequest,
    ResetType,
    UnlockConnectorRequest,
)
from ocpp16csms.profiles.core import (
    ConfigurationReport,
    DesiredConfiguration,
    KeyOutcome,
    Outbox,
    OutboxEntry,
    OutboxState,
    same_configuration_value,
)
from ocpp16csms.testing import Answer, default_answers

pytestmark = pytest.mark.anyio


def test_values_compare_as_a_charge_point_reports_them() -> None:
    assert same_configuration_value("true", "True")
    assert same_configuration_value("60", " 060 ")
    assert same_configuration_value(
        "Energy.Active.Import.Register,Power", "Energy.Active.Import.Register, Power"
    )
    assert not same_configuration_value("60", "61")
    assert not same_configuration_value("abc", "ABC")
    assert not same_configuration_value("1", None)


def test_what_is_wanted_layers_charge_point_over_model_over_everyone() -> None:
    cs = make_central_system()
    desired = DesiredConfiguration(cs, cs.core)
    desired.want({"HeartbeatInterval": "300", "MeterValueSampleInterval": "60"})
    desired.want({"MeterValueSampleInterval": "30"}, model="Volt 22")
    desired.want({"heartbeatinterval": "120"}, charge_point_id="CP1")
    assert desired.wanted("CP1", "Volt 22") == {
        "heartbeatinterval": "120",
        "MeterValueSampleInterval": "30",
    }
    assert desired.wanted("CP2", "Other") == {
        "HeartbeatInterval": "300",
        "MeterValueSampleInterval": "60",
    }
    with pytest.raises(ValueError, match="write-only"):
        desired.want({"AuthorizationKey": "0123456789abcdef"})
    with pytest.raises(ValueError, match="CiString50"):
        desired.want({"K" * 51: "1"})
    with pytest.raises(ValueError, match="500"):
        desired.want({"K": "v" * 501})
    with pytest.raises(ValueError, match="not both"):
        desired.want({"K": "1"}, charge_point_id="CP1", model="M")


async def test_an_accepted_boot_brings_the_configuration_in_line_and_reports_drift() -> None:
    cs = make_central_system()
    desired = DesiredConfiguration(cs, cs.core)
    desired.want(
        {
            "HeartbeatInterval": "300",  # differs: changed
            "MeterValueSampleInterval": "60",  # same already
            "ConnectionTimeOut": "90",  # needs a reboot
            "LocalPreAuthorize": "true",  # refused
            "NumberOfConnectors": "4",  # read-only
            "VendorKnob": "on",  # unknown to the charge point
            "WebSocketPingInterval": "30",  # the call fails
        },
        model="Volt 22",
    )
    reports: list[ConfigurationReport] = []
    desired.subscribe(reports.append)
    async with cs, connected(cs) as cp:
        cp.configuration = {
            "HeartbeatInterval": ("900", False),
            "MeterValueSampleInterval": ("060", False),
            "ConnectionTimeOut": ("60", False),
            "LocalPreAuthorize": ("false", False),
            "NumberOfConnectors": ("2", True),
            "WebSocketPingInterval": ("0", False),
        }

        def change(request: ChangeConfigurationRequest) -> ChangeConfigurationResponse:
            status = {
                "ConnectionTimeOut": ConfigurationStatus.REBOOT_REQUIRED,
                "LocalPreAuthorize": ConfigurationStatus.REJECTED,
            }.get(request.key, ConfigurationStatus.ACCEPTED)
            return ChangeConfigurationResponse(status=status)

        cp.answer("ChangeConfiguration", change)
        await cp.call(BOOT)
        await wait_until(lambda: reports)
        # The configuration store follows the accepted changes.
        stored = await cs.stores.configuration.get("CP1")
        assert stored["HeartbeatInterval"].value == "300"
        await cp.call(
            BootNotificationRequest(charge_point_vendor="Acme", charge_point_model="Other")
        )
        await wait_until(lambda: cp.received_of(GetConfigurationRequest))
        cp.answer("ChangeConfiguration", error=ErrorCode.INTERNAL_ERROR)
        report = await desired.reconcile("CP1")  # the model of the last boot: "Other"
        desired.want({"HeartbeatInterval": "100"}, charge_point_id="CP1")
        failed = await desired.reconcile("CP1")
    first = reports[0]
    outcomes = {k.key: k.outcome for k in first.keys}
    assert outcomes == {
        "HeartbeatInterval": KeyOutcome.CHANGED,
        "MeterValueSampleInterval": KeyOutcome.IN_SYNC,
        "ConnectionTimeOut": KeyOutcome.REBOOT_REQUIRED,
        "LocalPreAuthorize": KeyOutcome.REJECTED,
        "NumberOfConnectors": KeyOutcome.READ_ONLY,
        "VendorKnob": KeyOutcome.UNKNOWN_KEY,
        "WebSocketPingInterval": KeyOutcome.CHANGED,
    }
    assert first.reboot_required
    assert not first.in_sync
    assert {k.key for k in first.drift} == {
        "ConnectionTimeOut",
        "LocalPreAuthorize",
        "NumberOfConnectors",
        "VendorKnob",
    }
    sent = [(r.key, r.value) for r in cp.received_of(ChangeConfigurationRequest)]
    assert sent[:4] == [
        ("HeartbeatInterval", "300"),
        ("ConnectionTimeOut", "90"),
        ("LocalPreAuthorize", "true"),
        ("WebSocketPingInterval", "30"),
    ]
    # A boot of a model nothing is wanted for sends nothing; reconcile reads the boot's model.
    assert report.keys == ()
    assert report.in_sync
    (only,) = failed.keys
    assert (only.key, only.outcome, only.reported) == (
        "HeartbeatInterval",
        KeyOutcome.FAILED,
        "900",
    )
    assert "InternalError" in (only.detail or "")
    assert desired.report("CP1") is failed


async def test_a_configuration_that_cannot_be_read_is_reported() -> None:
    cs = make_central_system()
    desired = DesiredConfiguration(cs, cs.core)
    desired.want({"HeartbeatInterval": "300"})
    async with connected(cs) as cp:
        await cp.call(BOOT)  # not running: reconciled in the after hook itself
        cp.answer("GetConfiguration", error=ErrorCode.NOT_SUPPORTED)
        report = await desired.reconcile("CP1")
    assert report.error is not None
    assert "NotSupported" in report.error
    assert not report.in_sync
    assert cp.received_of(ChangeConfigurationRequest) == []


async def test_the_outbox_delivers_when_the_charge_point_is_back() -> None:
    cs = make_central_system()
    outbox = Outbox(cs)
    ended: list[OutboxEntry] = []
    outbox.subscribe(ended.append)
    async with cs:
        reset = await outbox.post("CP1", ResetRequest(type=ResetType.SOFT), expires_in=3600)
        unlock = await outbox.post("CP1", UnlockConnectorRequest(connector_id=1), expires_in=60)
        late = await outbox.post("CP1", ResetRequest(type=ResetType.HARD), expires_in=600)
        assert reset.state is OutboxState.QUEUED
        cs.clock.advance(120)  # type: ignore[attr-defined]
        answers = default_answers()  # set before it connects: delivery starts at once
        answers["Reset"] = Answer(error=ErrorCode.NOT_SUPPORTED)
        async with connected(cs, answers=answers) as cp:
            await wait_until(lambda: len(ended) == 3)
            # Delivered in order, expired ones not sent.
            assert [type(r).__name__ for r in cp.received] == ["ResetRequest", "ResetRequest"]
            now_posted = await outbox.post("CP1", UnlockConnectorRequest(connector_id=2))
            await wait_until(lambda: len(ended) == 4)
    by_id = {e.entry_id: e for e in ended}
    assert by_id[reset.entry_id].state is OutboxState.FAILED
    assert "NotSupported" in (by_id[reset.entry_id].error or "")
    assert by_id[unlock.entry_id].state is OutboxState.EXPIRED
    assert by_id[late.entry_id].state is OutboxState.FAILED
    delivered = by_id[now_posted.entry_id]
    assert delivered.state is OutboxState.DELIVERED
    assert delivered.response is not None
    assert (await outbox.entry(reset.entry_id)) == by_id[reset.entry_id]


async def test_the_outbox_keeps_what_could_not_be_delivered() -> None:
    cs = make_central_system(call_timeout=0.1)
    outbox = Outbox(cs)
    async with connected(cs) as cp:
        cp.answer("Reset", drop=True)
        # Not running: delivered at once, here; unanswered, so kept to be sent again.
        entry = await outbox.post("CP1", ResetRequest(type=ResetType.SOFT))
        assert entry.state is OutboxState.QUEUED
        assert entry.attempts == 1
        assert "did not answer" in (entry.error or "")
    with pytest.raises(TypeError, match="central system sends"):
        await outbox.post("CP1", BOOT)
    with pytest.raises(ValueError, match="expires_in"):
        await outbox.post("CP1", ResetRequest(type=ResetType.SOFT), expires_in=0)
    # Not connected: it stays queued, with no attempt counted.
    queued = await outbox.post("CP1", ResetRequest(type=ResetType.HARD))
    assert (await outbox.deliver("CP1")) == []
    kept = await outbox.entry(queued.entry_id)
    assert kept is not None
    assert kept.state is OutboxState.QUEUED
    assert kept.attempts == 0
