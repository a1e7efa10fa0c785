"""A Plug & Charge world for scenario tests: a demo PKI, its OCSP responder on loopback HTTP,
a central system with the reference seams, and a PnC charge point connected in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import attrs

from harness import T0, FakeClock, connected, make_central_system
from ocpp16csms import CentralSystem, IdTagRecord, Stores
from ocpp16csms.profiles.plug_and_charge.demo_pki import DemoPki
from ocpp16csms.profiles.plug_and_charge.reference import demo_providers
from ocpp16csms.testing import ChargePointSimulator
from ocpp16csms.testing.ocsp_responder import OcspResponder, serve_ocsp
from ocpp16csms.testing.pnc_simulator import PncChargePoint

EMAID = "DEMO-EMAID-1"


@attrs.define
class World:
    """Everything a Plug & Charge scenario touches."""

    cs: CentralSystem
    cp: PncChargePoint
    sim: ChargePointSimulator
    pki: DemoPki
    responder: OcspResponder
    url: str
    clock: FakeClock


@asynccontextmanager
async def pnc_world(
    *,
    stores: Stores | None = None,
    providers: bool = True,
    charge_point: str = "CP1",
    **options: Any,
) -> AsyncIterator[World]:
    """A running central system with the demo PKI's seams and one connected PnC charge point.

    The central system, the OCSP client and the responder share one fake clock at ``T0``.
    """
    clock = FakeClock(T0)
    responder = OcspResponder((), (), clock=clock)
    async with serve_ocsp(responder) as url:
        pki = DemoPki.generate(now=T0, emaid=EMAID, ocsp_url=url)
        responder.add_pki(pki)
        cs = make_central_system(
            charge_points=(charge_point,),
            id_tags=(IdTagRecord(id_tag=EMAID),),
            stores=stores,
            **options,
        )
        cs.clock = clock
        if providers:
            cs.plug_and_charge.providers = demo_providers(pki, clock=clock)
        async with cs, connected(cs, charge_point) as sim, PncChargePoint(sim).running() as cp:
            yield World(cs=cs, cp=cp, sim=sim, pki=pki, responder=responder, url=url, clock=clock)


async def wait_delivered(world: World, count: int = 1, charge_point: str = "CP1") -> str:
    """Wait until the charge point accepted ``count`` chains and the central system has its
    answer (no CSR pending); the last chain."""
    chain = await world.cp.wait_signed(count)
    with anyio.fail_after(5):
        while await world.cs.plug_and_charge.signing_requests(charge_point):
            await anyio.sleep(0.005)
    return chain
