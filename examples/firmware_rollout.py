"""Recipe: roll a firmware out over a fleet, a few charge points at a time.

    python examples/firmware_rollout.py --demo

Six simulated charge points in memory; at most two update at once. Each gets its own signed,
expiring download URL (``FileTransfers``; serve ``transfers.app()`` with any ASGI server so
real charge points can fetch it). CP-3's first download fails and is retried after the retry
delay; CP-2 is offline at the start and gets the update when it connects. Every change is
kept in a SQLite campaign store, so the same campaign built again after a restart would go on
where it stopped. The clock is a manual one, so the retry delay passes at once.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio

from ocpp16csms import CentralSystem, ChargePointRecord, memory_connection_pair, memory_stores
from ocpp16csms.messages import RegistrationStatus
from ocpp16csms.profiles.firmware import CampaignProgress, CampaignState, FirmwareCampaign
from ocpp16csms.stores.sqlite import SqliteCampaignStore
from ocpp16csms.testing import ChargePointSimulator
from ocpp16csms.transfers import FirmwareDirectory, GrantSigner
from ocpp16csms.transports.file_transfer import FileTransfers

FLEET = [f"CP-{n}" for n in range(1, 7)]
FIRMWARE_FILE = "volt22-2.1.bin"


class ManualClock:
    """The central system's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def demo(workdir: Path) -> int:
    (workdir / "firmware").mkdir()
    (workdir / "firmware" / FIRMWARE_FILE).write_bytes(b"firmware 2.1" * 1000)
    clock = ManualClock()
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(charge_point_id=cp, registration_status=RegistrationStatus.ACCEPTED)
            for cp in FLEET
        ]
    )
    cs = CentralSystem(stores, clock=clock)
    transfers = FileTransfers(
        cs,
        signer=GrantSigner(b"a key every process of the central system shares"),
        base_url="https://files.example.com/ocpp",
        firmware=FirmwareDirectory(workdir / "firmware"),
    )
    store = SqliteCampaignStore(workdir / "campaigns.db")

    async def send(charge_point_id: str) -> object:
        # A fresh URL per attempt: it names this charge point and expires in a day.
        return await transfers.update_firmware(charge_point_id, FIRMWARE_FILE, retries=2)

    campaign = FirmwareCampaign(
        cs,
        campaign_id="volt22-2.1",
        charge_points=FLEET,
        send=send,
        store=store,
        concurrency=2,
        max_attempts=3,
        retry_delay=900,
    )

    @campaign.subscribe
    def show(event: CampaignProgress) -> None:
        if event.previous is event.entry.state:
            return  # progress within a state (Downloading, Installing, ...)
        counts = ", ".join(f"{s.value} {n}" for s, n in event.counts.items() if n)
        before = "new" if event.previous is None else event.previous.value
        note = f" ({event.entry.error})" if event.entry.error else ""
        print(f"{event.charge_point_id}: {before} -> {event.entry.state.value}{note}  [{counts}]")

    simulators: dict[str, ChargePointSimulator] = {}
    async with cs, anyio.create_task_group() as group:

        async def connect(cp: str) -> None:
            cs_end, cp_end = memory_connection_pair()
            group.start_soon(cs.serve, cs_end, cp)
            sim = ChargePointSimulator(cp, cp_end)
            if cp == "CP-3":
                sim.report_firmware_updates(["Downloading", "DownloadFailed"])
            else:
                sim.report_firmware_updates()
            simulators[cp] = sim
            started = anyio.Event()

            async def run() -> None:
                async with sim.running():
                    started.set()
                    await anyio.sleep_forever()

            group.start_soon(run)
            await started.wait()
            await sim.boot(model="Volt 22", firmware_version="2.0")

        for cp in FLEET:
            if cp != "CP-2":
                await connect(cp)
        await campaign.start()

        async def until(state: CampaignState, count: int) -> None:
            while campaign.counts()[state] != count:
                await anyio.sleep(0.01)

        with anyio.fail_after(10):
            await until(CampaignState.INSTALLED, 4)  # all but CP-2 (offline), CP-3 (failed)
            simulators["CP-3"].report_firmware_updates()  # its next download works
            print("... CP-2 connects")
            await connect("CP-2")
            await until(CampaignState.INSTALLED, 5)
            print("... 15 minutes later")
            clock.now += timedelta(minutes=15)
            await campaign.poll()
            await campaign.finished.wait()
        group.cancel_scope.cancel()
    await store.aclose()

    kept = await SqliteCampaignStore(workdir / "campaigns.db").entries("volt22-2.1")
    installed = [e for e in kept if e.state is CampaignState.INSTALLED]
    attempts = {e.charge_point_id: e.attempts for e in kept}
    print(f"campaign finished: {len(installed)} of {len(FLEET)} installed; attempts {attempts}")
    return 0 if len(installed) == len(FLEET) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="run the simulated fleet and exit")
    if not parser.parse_args().demo:
        parser.error("this recipe runs as a demo: pass --demo")
    with tempfile.TemporaryDirectory() as workdir:
        sys.exit(anyio.run(demo, Path(workdir)))


if __name__ == "__main__":
    main()
