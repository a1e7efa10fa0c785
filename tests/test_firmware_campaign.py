"""Firmware campaigns (profiles/firmware/campaign.py) over simulated charge points in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from harness import BOOT, T0, connected, make_central_system, wait_until
from ocpp16csms import CallErrorReceived, CentralSystem, ErrorCode
from ocpp16csms.messages import (
    Firmware,
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    SignedUpdateFirmwareRequest,
    SignedUpdateFirmwareResponse,
    UpdateFirmwareRequest,
    UpdateFirmwareStatus,
)
from ocpp16csms.profiles.firmware import (
    CampaignEntry,
    CampaignProgress,
    CampaignState,
    FirmwareCampaign,
    MemoryCampaignStore,
)
from ocpp16csms.stores.sqlite import SqliteCampaignStore
from ocpp16csms.testing import ChargePointSimulator

pytestmark = pytest.mark.anyio

LOCATION = "https://fw.example.com/volt22/2.1.bin"
CPS = ("CP1", "CP2", "CP3", "CP4", "CP5")


def campaign_for(cs: CentralSystem, **options: Any) -> FirmwareCampaign:
    options.setdefault("charge_points", CPS)
    options.setdefault("campaign_id", "fw-2.1")
    options.setdefault("retry_delay", 60)

    async def send(cp: str) -> object:
        return await cs.firmware.update_firmware(cp, LOCATION, cs.clock())

    return FirmwareCampaign(cs, send=send, **options)


@asynccontextmanager
async def fleet(
    cs: CentralSystem, *cps: str, statuses: tuple[str, ...] | None = None
) -> AsyncIterator[dict[str, ChargePointSimulator]]:
    """Connect and boot simulated charge points that report firmware progress."""
    async with AsyncExitStack() as stack:
        sims = {}
        for cp in cps:
            sim = await stack.enter_async_context(connected(cs, cp))
            if statuses is None:
                sim.report_firmware_updates()
            else:
                sim.report_firmware_updates(statuses)
            await sim.call(BOOT)
            sims[cp] = sim
        yield sims


def states(campaign: FirmwareCampaign) -> dict[str, CampaignState]:
    return {e.charge_point_id: e.state for e in campaign.entries}


async def test_a_rollout_respects_the_concurrency_limit_and_reports_progress() -> None:
    cs = make_central_system(charge_points=CPS)
    campaign = campaign_for(cs, concurrency=2)
    events: list[CampaignProgress] = []
    most_updating = 0

    @campaign.subscribe
    def progress(event: CampaignProgress) -> None:
        nonlocal most_updating
        events.append(event)
        most_updating = max(most_updating, event.counts[CampaignState.UPDATING])

    async with cs, fleet(cs, *CPS, statuses=()) as sims:
        await campaign.start()
        await anyio.sleep(0.05)  # the polls each answer starts in the background
        # Two are updating; the others wait for a slot.
        assert sorted(cp for cp, s in states(campaign).items() if s is CampaignState.UPDATING) == [
            "CP1",
            "CP2",
        ]
        assert campaign.counts()[CampaignState.PENDING] == 3
        for sim in sims.values():
            sim.report_firmware_updates()
        for cp in ("CP1", "CP2"):
            for status in ("Downloading", "Downloaded", "Installing", "Installed"):
                await sims[cp].call(
                    FirmwareStatusNotificationRequest(status=FirmwareStatus(status))
                )
        await wait_until(campaign.finished.is_set)
    assert set(states(campaign).values()) == {CampaignState.INSTALLED}
    assert most_updating == 2
    for cp, sim in sims.items():
        assert len(sim.received_of(UpdateFirmwareRequest)) == 1, cp
        assert campaign.entry(cp).attempts == 1  # type: ignore[union-attr]
        assert campaign.entry(cp).last_status == "Installed"  # type: ignore[union-attr]
    # One event per change, each with the counts after it.
    assert events[0].previous is None
    assert events[-1].counts[CampaignState.INSTALLED] == 5
    assert [e.entry.state for e in events if e.charge_point_id == "CP3"] == [
        CampaignState.PENDING,
        CampaignState.UPDATING,
        CampaignState.UPDATING,  # Downloading, Downloaded, Installing keep it updating
        CampaignState.UPDATING,
        CampaignState.UPDATING,
        CampaignState.INSTALLED,
    ]


async def test_a_failed_download_is_retried_after_the_delay() -> None:
    cs = make_central_system(charge_points=("CP1",))
    campaign = campaign_for(cs, charge_points=["CP1"], retry_delay=120)
    async with cs, fleet(cs, "CP1", statuses=("Downloading", "DownloadFailed")) as sims:
        await campaign.start()
        await wait_until(lambda: states(campaign)["CP1"] is CampaignState.RETRY_SCHEDULED)
        entry = campaign.entry("CP1")
        assert entry is not None
        assert entry.error == "the charge point reported DownloadFailed"
        assert entry.next_attempt_at == cs.clock() + timedelta(seconds=120)
        sims["CP1"].report_firmware_updates()
        cs.clock.advance(119)  # type: ignore[attr-defined]
        await campaign.poll()
        assert len(sims["CP1"].received_of(UpdateFirmwareRequest)) == 1
        cs.clock.advance(1)  # type: ignore[attr-defined]
        await campaign.poll()
        await wait_until(campaign.finished.is_set)
    assert campaign.entry("CP1").state is CampaignState.INSTALLED  # type: ignore[union-attr]
    assert campaign.entry("CP1").attempts == 2  # type: ignore[union-attr]
    assert len(sims["CP1"].received_of(UpdateFirmwareRequest)) == 2


async def test_attempts_run_out() -> None:
    cs = make_central_system(charge_points=("CP1",))
    campaign = campaign_for(cs, charge_points=["CP1"], max_attempts=2, retry_delay=10)
    async with cs, fleet(cs, "CP1", statuses=("InstallationFailed",)) as sims:
        await campaign.start()
        await wait_until(lambda: states(campaign)["CP1"] is CampaignState.RETRY_SCHEDULED)
        cs.clock.advance(10)  # type: ignore[attr-defined]
        await campaign.poll()
        await wait_until(campaign.finished.is_set)
    entry = campaign.entry("CP1")
    assert entry is not None
    assert (entry.state, entry.attempts) == (CampaignState.FAILED, 2)
    assert len(sims["CP1"].received_of(UpdateFirmwareRequest)) == 2


async def test_an_attempt_without_installed_times_out() -> None:
    cs = make_central_system(charge_points=("CP1",))
    campaign = campaign_for(cs, charge_points=["CP1"], attempt_timeout=600, retry_delay=5)
    async with cs, fleet(cs, "CP1", statuses=("Downloading",)) as sims:
        await campaign.start()
        await wait_until(lambda: campaign.entry("CP1").last_status == "Downloading")  # type: ignore[union-attr]
        cs.clock.advance(599)  # type: ignore[attr-defined]
        await campaign.poll()
        assert states(campaign)["CP1"] is CampaignState.UPDATING
        cs.clock.advance(1)  # type: ignore[attr-defined]
        await campaign.poll()
        assert states(campaign)["CP1"] is CampaignState.RETRY_SCHEDULED
        assert "no Installed within 600 s" in (campaign.entry("CP1").error or "")  # type: ignore[union-attr]
        sims["CP1"].report_firmware_updates()
        cs.clock.advance(5)  # type: ignore[attr-defined]
        await campaign.poll()
        await wait_until(campaign.finished.is_set)
    assert states(campaign)["CP1"] is CampaignState.INSTALLED


async def test_offline_charge_points_get_the_update_when_they_come_back() -> None:
    cs = make_central_system(charge_points=("CP1", "CP2"))
    campaign = campaign_for(cs, charge_points=["CP1", "CP2"], concurrency=1)
    async with cs:
        async with fleet(cs, "CP1"):
            await campaign.start()
            await wait_until(lambda: states(campaign)["CP1"] is CampaignState.INSTALLED)
            await wait_until(lambda: states(campaign)["CP2"] is CampaignState.OFFLINE)
            assert campaign.entry("CP2").attempts == 0  # type: ignore[union-attr]
            assert not campaign.finished.is_set()
        async with connected(cs, "CP2") as sim:
            # Sent as soon as it connects (its registration was Accepted before).
            await wait_until(lambda: len(sim.received_of(UpdateFirmwareRequest)) == 1)
            await sim.call(FirmwareStatusNotificationRequest(status=FirmwareStatus.INSTALLED))
            await wait_until(campaign.finished.is_set)
    assert states(campaign) == {"CP1": CampaignState.INSTALLED, "CP2": CampaignState.INSTALLED}


async def test_a_boot_with_the_expected_version_counts_as_installed() -> None:
    cs = make_central_system(charge_points=("CP1",))
    campaign = campaign_for(cs, charge_points=["CP1"], firmware_version="2.1")
    async with cs, connected(cs, "CP1") as sim:
        await campaign.start()  # not booted in this connection yet: answered, not accepted
        await wait_until(lambda: len(sim.received_of(UpdateFirmwareRequest)) == 1)
        await sim.boot(model="Volt 22", firmware_version="2.0")
        assert states(campaign)["CP1"] is CampaignState.UPDATING
        await sim.boot(model="Volt 22", firmware_version="2.1")
        await wait_until(campaign.finished.is_set)
    assert states(campaign)["CP1"] is CampaignState.INSTALLED


async def test_refusals_and_call_errors() -> None:
    cs = make_central_system(charge_points=("CP1", "CP2", "CP3"))
    request_ids = iter(range(1, 100))

    async def send(cp: str) -> object:
        firmware = Firmware(
            location=LOCATION,
            retrieve_date_time=cs.clock(),
            signing_certificate=CERTIFICATE,
            signature="c2lnbmF0dXJl",
        )
        return await cs.security.signed_update_firmware(
            cp, request_id=next(request_ids), firmware=firmware
        )

    campaign = FirmwareCampaign(
        cs, campaign_id="signed", charge_points=["CP1", "CP2", "CP3"], send=send, retry_delay=30
    )
    async with cs, fleet(cs, "CP1", "CP2", "CP3") as sims:
        sims["CP1"].answer(
            "SignedUpdateFirmware",
            SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.INVALID_CERTIFICATE),
        )
        sims["CP2"].answer(
            "SignedUpdateFirmware",
            SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.REJECTED),
        )
        sims["CP3"].answer("SignedUpdateFirmware", error=ErrorCode.NOT_SUPPORTED)
        await campaign.start()
        assert states(campaign) == {
            "CP1": CampaignState.FAILED,
            "CP2": CampaignState.RETRY_SCHEDULED,
            "CP3": CampaignState.RETRY_SCHEDULED,
        }
        assert campaign.entry("CP1").error == "the charge point answered InvalidCertificate"  # type: ignore[union-attr]
        assert "NotSupported" in (campaign.entry("CP3").error or "")  # type: ignore[union-attr]
        # A signed update reports with SignedFirmwareStatusNotification.
        sims["CP2"].answer(
            "SignedUpdateFirmware",
            SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.ACCEPTED),
        )
        cs.clock.advance(30)  # type: ignore[attr-defined]
        await campaign.poll()
        await wait_until(lambda: states(campaign)["CP2"] is CampaignState.INSTALLED)
        assert len(sims["CP2"].received_of(SignedUpdateFirmwareRequest)) == 2


async def test_an_invalid_request_fails_at_once_and_cancel_stops_a_charge_point() -> None:
    cs = make_central_system(charge_points=("CP1", "CP2"))
    calls: list[str] = []

    async def send(cp: str) -> object:
        calls.append(cp)
        if cp == "CP1":
            return await cs.firmware.update_firmware(cp, "no-scheme.bin", cs.clock())
        raise CallErrorReceived(cp, "UpdateFirmware", "GenericError", "busy")

    campaign = FirmwareCampaign(
        cs, campaign_id="c", charge_points=["CP1", "CP2"], send=send, retry_delay=5
    )
    async with cs:
        await campaign.start()
        assert states(campaign)["CP1"] is CampaignState.FAILED
        assert states(campaign)["CP2"] is CampaignState.RETRY_SCHEDULED
        await campaign.cancel("CP2")
        cs.clock.advance(5)  # type: ignore[attr-defined]
        await campaign.poll()
    assert states(campaign)["CP2"] is CampaignState.CANCELLED
    assert sorted(calls) == ["CP1", "CP2"]  # sent together; CP2 never again
    assert campaign.finished.is_set()


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_campaign_resumes_from_its_store_after_a_restart(
    backend: str, tmp_path: Path
) -> None:
    def store() -> Any:
        if backend == "memory":
            return shared
        return SqliteCampaignStore(tmp_path / "campaigns.db")

    shared = MemoryCampaignStore()
    first_store = store()
    cs = make_central_system(charge_points=("CP1", "CP2", "CP3"))
    campaign = campaign_for(cs, charge_points=["CP1", "CP2", "CP3"], store=first_store)
    async with cs:
        async with fleet(cs, "CP1"), fleet(cs, "CP2", statuses=("Downloading",)):
            await campaign.start()
            await wait_until(lambda: states(campaign)["CP1"] is CampaignState.INSTALLED)
            await wait_until(lambda: campaign.entry("CP2").last_status == "Downloading")  # type: ignore[union-attr]
        campaign.close()
    if backend == "sqlite":
        await first_store.aclose()
    before = {e.charge_point_id: e for e in campaign.entries}
    assert before["CP3"].state is CampaignState.OFFLINE

    # A new process: the same campaign id over the same store.
    cs = make_central_system(charge_points=("CP1", "CP2", "CP3"))
    resumed = campaign_for(cs, charge_points=["CP1", "CP2", "CP3"], store=store())
    async with cs, fleet(cs, "CP1", "CP2", "CP3") as sims:
        await resumed.start()
        assert {e.charge_point_id: e for e in resumed.entries}["CP1"] == before["CP1"]
        # CP2 was updating when the process stopped: it finishes its update.
        await sims["CP2"].call(FirmwareStatusNotificationRequest(status=FirmwareStatus.INSTALLED))
        await wait_until(resumed.finished.is_set)
        assert sims["CP1"].received_of(UpdateFirmwareRequest) == []
        assert sims["CP2"].received_of(UpdateFirmwareRequest) == []
        assert len(sims["CP3"].received_of(UpdateFirmwareRequest)) == 1
    assert set(states(resumed).values()) == {CampaignState.INSTALLED}


async def test_the_stores_round_trip_an_entry(tmp_path: Path) -> None:
    now = T0
    entry = CampaignEntry(
        campaign_id="c\x00",
        charge_point_id="CP\ud800",
        state="RetryScheduled",
        attempts=2,
        last_status="DownloadFailed",
        updated_at=now,
        next_attempt_at=now,
        attempt_started_at=None,
        error="the charge point reported DownloadFailed",
    )
    for store in (MemoryCampaignStore(), SqliteCampaignStore(str(tmp_path / "c.db"))):
        await store.save(entry)
        await store.save(
            CampaignEntry(
                campaign_id="other", charge_point_id="CP1", state="Pending", updated_at=now
            )
        )
        assert list(await store.entries("c\x00")) == [entry]
        assert await store.entries("missing") == []


def test_bad_options_are_refused() -> None:
    cs = make_central_system()

    async def send(cp: str) -> None:
        return None

    with pytest.raises(ValueError, match="concurrency"):
        FirmwareCampaign(cs, campaign_id="c", charge_points=[], send=send, concurrency=0)
    with pytest.raises(ValueError, match="retry_delay"):
        FirmwareCampaign(cs, campaign_id="c", charge_points=[], send=send, retry_delay=-1)
    with pytest.raises(ValueError, match="campaign_id"):
        FirmwareCampaign(cs, campaign_id="", charge_points=[], send=send)
    with pytest.raises(TypeError, match="send"):
        FirmwareCampaign(cs, campaign_id="c", charge_points=[], send="UpdateFirmware")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        CampaignEntry(
            campaign_id="c",
            charge_point_id="CP1",
            state="Pending",
            updated_at=datetime(2026, 1, 1),
        )
    with pytest.raises(TypeError, match="SqliteStores or a path"):
        SqliteCampaignStore(42)


CERTIFICATE = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBkTCB+wIJAJ3S1v8AAAAAMA0GCSqGSIb3DQEBCwUAMA0xCzAJBgNVBAYTAk5M\n"
    "-----END CERTIFICATE-----\n"
)
