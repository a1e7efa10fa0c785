"""Shared by the conformance tests: store factories, a test PKI, and a central system
served over real sockets on asyncio (the ``websockets`` adapter) or trio (the ASGI app under
hypercorn's trio worker; the ``websockets`` server is asyncio-only)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import anyio
import attrs
import hypercorn.config
import hypercorn.trio
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    IdTagRecord,
    Stores,
    memory_stores,
    sqlite_stores,
)
from ocpp16csms.messages import RegistrationStatus
from ocpp16csms.profiles.security import hash_password
from ocpp16csms.testing.conformance import CaseResult, ClientCertificate, SuiteConfig
from ocpp16csms.transports.asgi import OcppAsgiApp
from ocpp16csms.transports.websockets import WebSocketOptions, serve


@asynccontextmanager
async def _memory() -> AsyncIterator[Stores]:
    yield memory_stores()


@asynccontextmanager
async def _sqlite() -> AsyncIterator[Stores]:
    async with sqlite_stores() as stores:
        yield stores


@asynccontextmanager
async def _postgresql() -> AsyncIterator[Stores]:
    import _postgres

    _postgres.require()
    with _postgres.postgresql_stores_for_tests() as stores:
        yield stores


STORES: dict[str, Callable[[], AbstractAsyncContextManager[Stores]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}
"""Store factories the suite runs against: name → an async context manager of ``Stores``."""

PASSWORD = "conformance-password-1"
# Few iterations: the tests check the rules, not the cost of guessing.
PASSWORD_HASH = hash_password(PASSWORD, iterations=1000)


class TestPki:
    """A CA, a server certificate of each key type, client certificates, a CSR signer."""

    __test__ = False

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.servers = [
            self.ca.issue_cert("127.0.0.1", common_name="127.0.0.1", key_type=key_type)
            for key_type in (trustme.KeyType.ECDSA, trustme.KeyType.RSA)
        ]

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem.bytes().decode("ascii")

    def server_context(self) -> ssl.SSLContext:
        """TLS 1.2+, the four cipher suites OCTT TC_086 requires (hence an ECDSA and an RSA
        certificate), client certificates asked for and checked against the CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
            "AES128-GCM-SHA256:AES256-GCM-SHA384:ECDHE+AESGCM"
        )
        for server in self.servers:
            server.configure_cert(context)
        context.verify_mode = ssl.CERT_OPTIONAL
        self.ca.configure_trust(context)
        return context

    def client_certificate(self, common_name: str) -> ClientCertificate:
        leaf = self.ca.issue_cert(common_name=common_name)
        return ClientCertificate(
            certificate_chain_pem="".join(p.bytes().decode() for p in leaf.cert_chain_pems),
            private_key_pem=leaf.private_key_pem.bytes().decode(),
        )

    async def sign(self, charge_point_id: str, csr_pem: str) -> str:
        """The central system's certificate signer: the CA signs the CSR's subject and key."""
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        issuer = x509.load_pem_x509_certificate(self.ca.cert_pem.bytes())
        key: Any = serialization.load_pem_private_key(self.ca.private_key_pem.bytes(), None)
        signing_key: CertificateIssuerPrivateKeyTypes = key
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(issuer.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(signing_key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


@attrs.frozen
class Deployment:
    """A central system served on a plain and a TLS port."""

    central_system: CentralSystem
    url: str
    tls_url: str
    pki: TestPki
    backend: str


class _TlsConfig(hypercorn.config.Config):
    """hypercorn with our own TLS context (two certificates, client certificates asked for)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        self._context = context

    @property
    def ssl_enabled(self) -> bool:
        return True

    def create_ssl_context(self) -> ssl.SSLContext:
        return self._context


@asynccontextmanager
async def _hypercorn(app: Any, context: ssl.SSLContext | None) -> AsyncIterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    config = hypercorn.config.Config() if context is None else _TlsConfig(context)
    config.bind = [f"fd://{listener.detach()}"]
    config.graceful_timeout = 1
    config.accesslog = None
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        await group.start(partial(hypercorn.trio.serve, app, config, shutdown_trigger=stop.wait))
        yield port
        stop.set()


@asynccontextmanager
async def served(cs: CentralSystem, backend: str, pki: TestPki) -> AsyncIterator[tuple[str, str]]:
    if backend == "trio":
        app = OcppAsgiApp(cs, lifespan=False)
        async with _hypercorn(app, None) as port, _hypercorn(app, pki.server_context()) as port2:
            yield f"ws://127.0.0.1:{port}/ocpp", f"wss://127.0.0.1:{port2}/ocpp"
        return
    options = WebSocketOptions(ping_interval=None)
    async with (
        await serve(cs, "127.0.0.1", 0, options=options) as plain,
        await serve(cs, "127.0.0.1", 0, options=options, ssl_context=pki.server_context()) as tls,
    ):
        yield f"ws://127.0.0.1:{plain.port}/ocpp", f"wss://127.0.0.1:{tls.port}/ocpp"


def report(result: CaseResult) -> str:
    """A case's result with every validation, for assertion messages."""
    lines = [f"{result.case_id}: {result.status.value}: {result.reason}"]
    lines += [f"  {'ok ' if v.passed else 'FAIL'} {v}" for v in result.validations]
    return "\n".join(lines)


async def register(cs: CentralSystem, charge_point_id: str, profile: int = 1) -> None:
    """Register an Accepted charge point at ``profile`` (with ``PASSWORD`` for 1 and 2)."""
    await cs.stores.charge_points.save(
        ChargePointRecord(
            charge_point_id=charge_point_id,
            registration_status=RegistrationStatus.ACCEPTED,
            security_profile=profile,
            password_hash=PASSWORD_HASH if profile in (1, 2) else None,
        )
    )


@asynccontextmanager
async def deployed(
    backend: str,
    pki: TestPki,
    stores: Stores | None = None,
    configure: Callable[[CentralSystem], object] | None = None,
) -> AsyncIterator[Deployment]:
    """A running central system (``configure`` sees it first), served plain and over TLS."""
    stores = stores or memory_stores()
    await stores.id_tags.save(IdTagRecord(id_tag="OCTT-VALID"))
    cs = CentralSystem(stores, CentralSystemOptions(call_timeout=5.0, handler_grace=1.0))
    cs.security.set_certificate_signer(pki.sign)
    if configure is not None:
        configure(cs)
    async with cs, served(cs, backend, pki) as (url, tls_url):
        yield Deployment(cs, url, tls_url, pki, backend)


def suite_config(deployment: Deployment, charge_point_id: str, **changes: Any) -> SuiteConfig:
    """The suite's settings for a profile 1 charge point over ``ws://``."""
    changes.setdefault("password", PASSWORD)
    return SuiteConfig(
        url=deployment.url,
        charge_point_id=charge_point_id,
        ca_pem=deployment.pki.ca_pem,
        timeout=5.0,
        case_timeout=30.0,
        **changes,
    )
