"""Recipe: keep a site under its limit as transactions start and stop (site load balancing).

    python examples/load_balancing.py --demo   # simulated charge points in memory; prints
                                               # each step and checks it; exits 0
    python examples/load_balancing.py          # serve ws://127.0.0.1:9000/ocpp/<id> for
                                               # real charge points (extra ``websockets``)

The site has one limit (64 A here). Every connector draws nothing until it is given a share:
a TxDefaultProfile of 0 A is installed on each charge point when it boots. When a transaction
starts or stops, :class:`SiteBalancer` divides the site limit among the running transactions
with :func:`~ocpp16csms.profiles.smart_charging.balance_load` (each charge point also held to
its own ChargePointMaxProfile) and sends each transaction a TxProfile with its share, the
lowered ones first, so that the site never goes over the limit in between. The demo checks
each step with the composite-schedule engine (``expected_composite_schedule``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

import anyio

from ocpp16csms import (
    CallContext,
    CentralSystem,
    ChargePointRecord,
    IdTagRecord,
    memory_connection_pair,
    memory_stores,
)
from ocpp16csms.messages import (
    BootNotificationRequest,
    BootNotificationResponse,
    ChargingProfile,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    ChargingSchedule,
    ChargingSchedulePeriod,
    KeyValue,
    RegistrationStatus,
    StartTransactionRequest,
    StopTransactionRequest,
)
from ocpp16csms.profiles.smart_charging import (
    LoadDemand,
    LoadShare,
    balance_load,
    charge_point_cap,
    tx_profile_for,
)
from ocpp16csms.testing import ChargePointSimulator

SITE_LIMIT = 64.0
UNIT = ChargingRateUnitType.A
MINIMUM, MAXIMUM = 6.0, 32.0  # what one vehicle needs to charge at all, and can take
CONNECTORS = {"CP-A": 2, "CP-B": 1, "CP-C": 1}
TX_PROFILE_STACK_LEVEL = 1


def _profile(profile_id: int, purpose: ChargingProfilePurposeType, limit: float) -> ChargingProfile:
    return ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=0,
        charging_profile_purpose=purpose,
        charging_profile_kind=ChargingProfileKindType.RELATIVE
        if purpose is ChargingProfilePurposeType.TX_DEFAULT_PROFILE
        else ChargingProfileKindType.ABSOLUTE,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=UNIT,
            start_schedule=None
            if purpose is ChargingProfilePurposeType.TX_DEFAULT_PROFILE
            else datetime(2020, 1, 1, tzinfo=UTC),
            charging_schedule_period=(ChargingSchedulePeriod(start_period=0, limit=limit),),
        ),
    )


class SiteBalancer:
    """Sends each running transaction of the site its share of the limit, as a TxProfile."""

    def __init__(self, cs: CentralSystem, charge_points: Iterable[str], limit: float) -> None:
        self.cs = cs
        self.charge_points = frozenset(charge_points)
        self.limit = limit
        self.sent: dict[int, float] = {}  # transaction id -> the limit its TxProfile holds
        self.rounds = 0
        self._lock = anyio.Lock()
        cs.after(BootNotificationRequest)(self._booted)
        cs.after(StartTransactionRequest)(self._changed)
        cs.after(StopTransactionRequest)(self._changed)

    async def _booted(
        self, request: BootNotificationRequest, response: BootNotificationResponse, ctx: CallContext
    ) -> None:
        if ctx.charge_point_id in self.charge_points and response.status.value == "Accepted":
            # Nothing is drawn on a connector until the balancer gives its transaction a share.
            default = _profile(1, ChargingProfilePurposeType.TX_DEFAULT_PROFILE, 0)
            await self.cs.smart_charging.set_charging_profile(ctx.charge_point_id, 0, default)

    async def _changed(self, request: object, response: object, ctx: CallContext) -> None:
        if ctx.charge_point_id in self.charge_points:
            await self.rebalance()

    async def shares(self) -> tuple[LoadShare, ...]:
        """The share of every running transaction now, oldest transaction first."""
        running = [
            record
            for record in await self.cs.stores.transactions.active()
            if record.start.charge_point_id in self.charge_points
        ]
        running.sort(key=lambda record: (record.start.timestamp, record.transaction_id))
        demands = [
            LoadDemand(
                charge_point_id=record.start.charge_point_id,
                connector_id=record.start.connector_id,
                transaction_id=record.transaction_id,
                minimum=MINIMUM,
                maximum=MAXIMUM,
            )
            for record in running
        ]
        caps = {}
        profiles = self.cs.stores.charging_profiles
        assert profiles is not None
        for cp in self.charge_points:
            installed = [i.profile for i in await profiles.installed(cp) if i.connector_id == 0]
            cap = charge_point_cap(installed, at=self.cs.clock(), unit=UNIT)
            if cap is not None:
                caps[cp] = cap
        return balance_load(self.limit, demands, charge_point_caps=caps)

    async def rebalance(self) -> tuple[LoadShare, ...]:
        """Compute the shares and send those that changed, decreases first."""
        async with self._lock:
            shares = await self.shares()
            running = {s.demand.transaction_id for s in shares}
            self.sent = {tx: limit for tx, limit in self.sent.items() if tx in running}
            changed = [s for s in shares if self.sent.get(s.demand.transaction_id) != s.limit]
            changed.sort(key=lambda s: s.limit - self.sent.get(s.demand.transaction_id, 0.0))
            for share in changed:
                transaction_id = share.demand.transaction_id
                assert transaction_id is not None
                profile = tx_profile_for(
                    share,
                    unit=UNIT,
                    charging_profile_id=1000 + transaction_id,
                    stack_level=TX_PROFILE_STACK_LEVEL,
                )
                answer = await self.cs.smart_charging.set_charging_profile(
                    share.demand.charge_point_id, share.demand.connector_id, profile
                )
                if answer.status.value == "Accepted":
                    self.sent[transaction_id] = share.limit
            self.rounds += 1
            return shares


def central_system() -> tuple[CentralSystem, SiteBalancer]:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(charge_point_id=cp, registration_status=RegistrationStatus.ACCEPTED)
            for cp in CONNECTORS
        ],
        id_tags=[IdTagRecord(id_tag=f"TAG-{n}") for n in range(1, 6)],
    )
    cs = CentralSystem(stores)
    return cs, SiteBalancer(cs, CONNECTORS, SITE_LIMIT)


async def site_total(cs: CentralSystem) -> float:
    """What the charge points should draw now, from their installed profiles (composite)."""
    total = 0.0
    for cp in CONNECTORS:
        schedule = await cs.smart_charging.expected_composite_schedule(cp, 0, 60, UNIT)
        if schedule is not None:
            total += schedule.charging_schedule_period[0].limit
    return total


async def demo() -> int:
    cs, balancer = central_system()
    simulators: dict[str, ChargePointSimulator] = {}
    transactions: dict[tuple[str, int], int] = {}
    failures = 0

    async def settle(rounds: int) -> None:
        with anyio.fail_after(5):
            while balancer.rounds < rounds:
                await anyio.sleep(0.001)

    async def step(title: str) -> None:
        nonlocal failures
        shares = await balancer.shares()
        total = await site_total(cs)
        parts = ", ".join(
            f"{s.demand.charge_point_id}/{s.demand.connector_id}={s.limit:g} A" for s in shares
        )
        ok = total <= SITE_LIMIT
        for share in shares:
            cp, connector = share.demand.charge_point_id, share.demand.connector_id
            schedule = await cs.smart_charging.expected_composite_schedule(cp, connector, 60, UNIT)
            drawn = None if schedule is None else schedule.charging_schedule_period[0].limit
            ok = ok and drawn == share.limit
        failures += not ok
        verdict = "ok" if ok else "OVER THE LIMIT OR OUT OF STEP"
        print(f"{title:<28} {parts or 'nothing charging'}")
        print(f"{'':<28} composite site total {total:g} A of {SITE_LIMIT:g} A: {verdict}")

    for cp, count in CONNECTORS.items():
        # What GetConfiguration would report: the composite for connector 0 sums connectors 1..n.
        entry = KeyValue(key="NumberOfConnectors", readonly=True, value=str(count))
        await cs.stores.configuration.put(cp, [entry])
    async with anyio.create_task_group() as group:
        for cp in CONNECTORS:
            cs_end, cp_end = memory_connection_pair()
            group.start_soon(cs.serve, cs_end, cp)
            simulators[cp] = ChargePointSimulator(cp, cp_end)
        async with (
            simulators["CP-A"].running(),
            simulators["CP-B"].running(),
            simulators["CP-C"].running(),
        ):
            for sim in simulators.values():
                await sim.boot(model="Volt 22")
            profiles = cs.stores.charging_profiles
            assert profiles is not None
            with anyio.fail_after(5):
                for cp in CONNECTORS:  # the TxDefaultProfiles sent after each boot
                    while not await profiles.installed(cp):
                        await anyio.sleep(0.001)
            # CP-A's own supply allows 40 A over both its connectors.
            cap = _profile(2, ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE, 40)
            await cs.smart_charging.set_charging_profile("CP-A", 0, cap)
            print(f"site limit {SITE_LIMIT:g} A; CP-A capped at 40 A by its ChargePointMaxProfile")

            async def start(cp: str, connector: int, tag: str) -> None:
                rounds = balancer.rounds
                answer = await simulators[cp].call(
                    StartTransactionRequest(
                        connector_id=connector, id_tag=tag, meter_start=0, timestamp=cs.clock()
                    )
                )
                transactions[cp, connector] = answer.transaction_id
                await settle(rounds + 1)
                await step(f"start {cp}/{connector}")

            async def stop(cp: str, connector: int) -> None:
                rounds = balancer.rounds
                await simulators[cp].call(
                    StopTransactionRequest(
                        meter_stop=1000,
                        timestamp=cs.clock(),
                        transaction_id=transactions.pop((cp, connector)),
                    )
                )
                await settle(rounds + 1)
                await step(f"stop {cp}/{connector}")

            await start("CP-A", 1, "TAG-1")
            await start("CP-A", 2, "TAG-2")
            await start("CP-B", 1, "TAG-3")
            await start("CP-C", 1, "TAG-4")
            await stop("CP-A", 1)
            await stop("CP-B", 1)
            await stop("CP-A", 2)
            await stop("CP-C", 1)
        group.cancel_scope.cancel()
    print("every step within the site limit." if not failures else f"{failures} steps failed.")
    return 0 if not failures else 1


async def serve_forever(host: str, port: int) -> None:
    from ocpp16csms.transports.websockets import serve

    cs, _ = central_system()
    async with cs, await serve(cs, host, port) as server:
        print(f"serving ws://{host}:{server.port}/ocpp/<id> for {', '.join(CONNECTORS)}")
        await anyio.sleep_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="run the simulated site and exit")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    arguments = parser.parse_args()
    if arguments.demo:
        sys.exit(anyio.run(demo))
    anyio.run(serve_forever, arguments.host, arguments.port)


if __name__ == "__main__":
    main()
