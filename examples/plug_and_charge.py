"""ISO 15118 Plug & Charge over OCPP 1.6 with a demo PKI, on ws://127.0.0.1:N/ocpp/<id>.

    python examples/plug_and_charge.py --port 9000          # serve, with the demo PKI
    python examples/plug_and_charge.py --port 0 --demo      # also run a simulated charge
                                                            # point through every exchange

A fresh demo PKI (V2G, MO and CSMS roots, ECDSA P-256) is made at start, with an OCSP
responder on a loopback port that every certificate names. The charge point ``CP-PNC-1`` is
accepted; the eMAID ``DEMO-EMAID-1`` (the demo contract's) may charge, any other may not.
SignCertificate is signed by the demo CPO sub-CA; Get15118EVCertificate is answered by a demo
provider that is *not* ISO 15118 (see docs/plug-and-charge.md). Nothing here is for
production. Needs the ``websockets`` and ``pnc`` extras (``pip install -e '.[websockets,pnc]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import anyio
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    Exchange,
    IdTagRecord,
    UnknownChargePointPolicy,
    memory_stores,
)
from ocpp16csms.messages import DataTransferRequest, Direction, RegistrationStatus
from ocpp16csms.profiles.plug_and_charge import (
    AuthorizationStatus,
    AuthorizeCertificateStatus,
    GenericStatus,
    GetCertificateIdUse,
    GetCertificateStatus,
    InstallCertificateStatus,
    InstallCertificateUse,
    Iso15118EVCertificateStatus,
    MessageTrigger,
    TriggerMessageStatus,
)
from ocpp16csms.profiles.plug_and_charge.demo_pki import DemoPki
from ocpp16csms.profiles.plug_and_charge.ocsp import CertStatus, parse_ocsp_response
from ocpp16csms.profiles.plug_and_charge.pki import (
    load_pem_certificates,
    ocsp_request_data,
    verify_chain,
)
from ocpp16csms.profiles.plug_and_charge.reference import demo_providers
from ocpp16csms.testing.ocsp_responder import OcspResponder, serve_ocsp
from ocpp16csms.transports.websockets import serve

CHARGE_POINT = "CP-PNC-1"
EMAID = "DEMO-EMAID-1"
STRANGER = "DEMO-EMAID-2"


def transcript(event: Any) -> None:
    """Print each Plug & Charge DataTransfer as the 2.0.1 exchange it carries."""
    if not isinstance(event, Exchange) or not isinstance(event.request, DataTransferRequest):
        return
    sender = "CP" if event.direction is Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM else "CS"
    answerer = "CS" if sender == "CP" else "CP"
    cp, request = event.charge_point_id, event.request
    print(f"[{cp}] {sender} → {request.message_id} {_cut(request.data)}")
    if event.error is not None:
        print(f"[{cp}]   {answerer} ← error: {event.error}")
    else:
        answer = getattr(event.response, "status", None)
        data = getattr(event.response, "data", None)
        print(f"[{cp}]   {answerer} ← {answer} {_cut(data)}")


def _cut(text: str | None, limit: int = 100) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_central_system(pki: DemoPki) -> CentralSystem:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id=CHARGE_POINT, registration_status=RegistrationStatus.ACCEPTED
            )
        ],
        id_tags=[IdTagRecord(id_tag=EMAID)],
    )
    options = CentralSystemOptions(unknown_charge_points=UnknownChargePointPolicy.PENDING)
    cs = CentralSystem(stores, options)
    cs.plug_and_charge.providers = demo_providers(pki)
    cs.observe(transcript)
    return cs


def _spki(key: Any) -> bytes:
    return bytes(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


async def demo(cs: CentralSystem, url: str, pki: DemoPki, responder: OcspResponder) -> None:
    """A simulated charge point runs every Plug & Charge exchange against the central system."""
    from ocpp16csms.testing.pnc_simulator import PncChargePoint
    from ocpp16csms.testing.websocket import connect_simulator

    now = datetime.now(UTC)
    async with connect_simulator(url, CHARGE_POINT) as sim, PncChargePoint(sim).running() as cp:
        boot = await sim.boot(vendor="Acme", model="PnC 22")
        assert boot.status is RegistrationStatus.ACCEPTED

        ok = await cp.authorize(EMAID, certificate=pki.contract_chain_pem())
        assert ok.certificate_status is AuthorizeCertificateStatus.ACCEPTED
        assert ok.id_token_info.status is AuthorizationStatus.ACCEPTED
        print(f"\n{EMAID}: {ok.id_token_info.status}, certificate {ok.certificate_status}")
        stranger = pki.issue_contract(STRANGER, now=now)
        responder.add(certificates=[stranger.certificate])
        no = await cp.authorize(STRANGER, certificate=pki.contract_chain_pem(stranger))
        assert no.id_token_info.status is not AuthorizationStatus.ACCEPTED
        print(f"{STRANGER}: {no.id_token_info.status}, certificate {no.certificate_status}\n")

        assert (await cp.sign_certificate()).status is GenericStatus.ACCEPTED
        chain = load_pem_certificates(await cp.wait_signed())
        verified = verify_chain(chain, [pki.v2g_root.certificate], now=datetime.now(UTC))
        assert _spki(verified.leaf.public_key()) == _spki(cp.v2g_key.public_key())
        print(f"\nV2G certificate for {verified.leaf.subject.rfc4514_string()} from the V2G root\n")

        contract = await cp.get_15118_ev_certificate(b"\x80\x98\x02demo-exi-request")
        assert contract.status is Iso15118EVCertificateStatus.ACCEPTED
        data = ocsp_request_data(pki.secc.certificate, pki.cpo_sub_ca2.certificate)
        status = await cp.get_certificate_status(data)
        assert status.status is GetCertificateStatus.ACCEPTED
        assert status.ocsp_result is not None
        assert parse_ocsp_response(status.ocsp_result, expected=data).status is CertStatus.GOOD

        pnc = cs.plug_and_charge
        root = pki.v2g_root.certificate_pem()
        installed = await pnc.install_certificate(
            CHARGE_POINT, InstallCertificateUse.V2G_ROOT_CERTIFICATE, root
        )
        assert installed.status is InstallCertificateStatus.ACCEPTED
        await pnc.get_installed_certificate_ids(CHARGE_POINT)
        kinds = sorted(
            c.certificate_type.value for c in await pnc.installed_certificates(CHARGE_POINT)
        )
        assert kinds == sorted(
            [GetCertificateIdUse.V2G_CERTIFICATE_CHAIN, GetCertificateIdUse.V2G_ROOT_CERTIFICATE]
        )
        renewal = await pnc.trigger_message(CHARGE_POINT, MessageTrigger.SIGN_V2G_CERTIFICATE)
        assert renewal.status is TriggerMessageStatus.ACCEPTED
        await cp.wait_signed(count=2)
        with anyio.fail_after(10):  # until the central system has the charge point's answer
            while await pnc.signing_requests(CHARGE_POINT):
                await anyio.sleep(0.01)
        state = await pnc.v2g_certificate(CHARGE_POINT)
        assert state is not None
        print(f"\ninstalled: {', '.join(kinds)}; V2G certificate valid until {state.not_after}")
    print("the Plug & Charge demo completed.")


async def main(host: str, port: int, with_demo: bool) -> None:
    responder = OcspResponder((), ())
    async with serve_ocsp(responder) as ocsp_url:
        pki = DemoPki.generate(now=datetime.now(UTC), emaid=EMAID, ocsp_url=ocsp_url)
        responder.add_pki(pki)
        cs = build_central_system(pki)
        async with cs, await serve(cs, host, port) as server:
            url = f"ws://{host}:{server.port}/ocpp"
            print(f"OCPP 1.6J central system with Plug & Charge on {url}/<charge point id>")
            print(f"demo PKI: OCSP responder on {ocsp_url}, contract eMAID {EMAID}")
            if with_demo:
                await demo(cs, url, pki, responder)
            else:
                await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="ocpp16csms Plug & Charge with a demo PKI")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--demo", action="store_true", help="run a simulated charge point")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the server quietly
        anyio.run(main, args.host, args.port, args.demo)
