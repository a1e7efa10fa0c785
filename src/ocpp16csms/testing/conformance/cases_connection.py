"""OCTT §3.21 (security whitepaper §2): the connection itself — the Basic auth password
(TC_073, TC_085) and TLS with server and client certificates (TC_086, TC_087)."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

from ...enums import ConfigurationStatus
from ...messages import (
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    HeartbeatRequest,
)
from ...messages.base import Profile
from .case import ConformanceCase, conformance_case
from .certificates import certificate_facts
from .model import Need, NotApplicable
from .tool import Step, Tool
from .transport import UpgradeRefused, open_stream

__all__ = ["PASSWORD_CASES", "REQUIRED_CIPHER_SUITES", "TLS_CASES"]

_SECURITY = Profile.SECURITY

REQUIRED_CIPHER_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
}
"""The TLS 1.2 cipher suites a central system must support (whitepaper §2.5, OCTT TC_086),
with their OpenSSL names."""

_MINIMUM_KEY_BITS = {"RSA": 2048, "DSA": 2048, "EC": 224}


@conformance_case(
    "TC_073_CSMS",
    "Update Charge Point Password for HTTP Basic Authentication",
    section="3.21.1",
    checks="ChangeConfiguration AuthorizationKey; the charge point reconnects with the new "
    "password",
    feature=_SECURITY,
    needs=(Need.OPERATOR, Need.PASSWORD),
)
async def tc_073(tool: Tool) -> None:
    cp = tool.config.charge_point_id
    await tool.connect()
    await tool.booted()
    request: ChangeConfigurationRequest = await tool.expect(
        1,
        ChangeConfigurationRequest,
        lambda operator: operator.change_authorization_key(cp),
        ChangeConfigurationResponse(status=ConfigurationStatus.ACCEPTED),
    )
    tool.check_equal(1, "ChangeConfiguration.req", "key", request.key, "AuthorizationKey")
    tool.password = request.value
    await tool.connect(3)
    await tool.call(3, HeartbeatRequest())


@conformance_case(
    "TC_085_CSMS",
    "Basic Authentication - Valid username/password combination",
    section="3.21",
    checks="the upgrade with valid Basic credentials is accepted; BootNotification Accepted",
    feature=_SECURITY,
    needs=(Need.PASSWORD,),
)
async def tc_085(tool: Tool) -> None:
    await tool.connect(2)
    await tool.boot(4)
    await tool.statuses(6)


async def _negotiates(tool: Tool, openssl_name: str) -> bool:
    """Whether the server completes a TLS 1.2 handshake offering only this cipher suite."""
    context = tool.config.tls_context(tool.client_certificate)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.set_ciphers(openssl_name)
    except ssl.SSLError:
        raise NotApplicable(f"this tool's TLS library cannot offer {openssl_name}") from None
    try:
        stream, facts = await open_stream(tool.url, context, timeout=tool.config.timeout)
    except UpgradeRefused:
        return False
    await stream.aclose()
    return facts is not None and facts.cipher == openssl_name


async def _check_tls(tool: Tool, step: Step, *, server_certificate: bool) -> None:
    facts = tool.tls
    if facts is None:
        tool.fail(step, "TLS handshake", "The connection uses TLS", "no TLS")
    message = "TLS handshake"
    tool.check(
        step,
        message,
        "The Central System uses TLS version 1.2 or above",
        facts.version in ("TLSv1.2", "TLSv1.3"),
        facts.version,
    )
    for suite, openssl_name in REQUIRED_CIPHER_SUITES.items():
        tool.check(
            step,
            message,
            f"{suite} is supported",
            await _negotiates(tool, openssl_name),
            "the handshake offering only it fails",
        )
    if not server_certificate:
        return
    message = "server certificate"
    if facts.peer_certificate_der is None:
        tool.fail(step, message, "The Central System sends a certificate", "none")
    try:
        certificate = certificate_facts(facts.peer_certificate_der)
    except ValueError as error:
        tool.fail(step, message, "The certificate is X.509 (PEM)", error)
    tool.check(step, message, "The certificate is X.509 (PEM)", True)
    tool.check(
        step,
        message,
        "The certificate includes a serial number",
        certificate.serial_number > 0,
        certificate.serial_number,
    )
    minimum = _MINIMUM_KEY_BITS.get(certificate.key_type, 0)
    tool.check(
        step,
        message,
        "An RSA or DSA key is at least 2048 bits, an elliptic curve key at least 224 bits",
        certificate.key_size >= minimum,
        f"{certificate.key_type} {certificate.key_size} bits",
    )
    host = (urlsplit(tool.config.url).hostname or "").casefold()
    names = [name.casefold() for name in certificate.subject_common_names]
    tool.check(
        step,
        message,
        f"The subject's commonName is the server's FQDN ({host})",
        host in names,
        ", ".join(certificate.subject_common_names) or "no commonName",
    )


@conformance_case(
    "TC_086_CSMS",
    "TLS - server-side certificate - Valid certificate",
    section="3.21",
    checks="TLS 1.2+, the four required cipher suites, a serial number, key size and the "
    "server's name in the certificate; BootNotification Accepted over wss://",
    feature=_SECURITY,
    needs=(Need.TLS,),
)
async def tc_086(tool: Tool) -> None:
    await tool.connect(6)
    await _check_tls(tool, 2, server_certificate=True)
    await tool.boot(8)
    await tool.statuses(10)


@conformance_case(
    "TC_087_CSMS",
    "TLS - Client-side certificate - valid certificate",
    section="3.21",
    checks="with a client certificate: TLS 1.2+, the four required cipher suites; "
    "BootNotification Accepted",
    feature=_SECURITY,
    needs=(Need.TLS, Need.CLIENT_CERTIFICATE),
)
async def tc_087(tool: Tool) -> None:
    await tool.connect(6)
    await _check_tls(tool, 3, server_certificate=False)
    await tool.boot(8)
    await tool.statuses(10)


PASSWORD_CASES: tuple[ConformanceCase, ...] = (tc_073,)
"""TC_073_CSMS, first of §3.21 in the document."""

TLS_CASES: tuple[ConformanceCase, ...] = (tc_085, tc_086, tc_087)
"""TC_085–TC_087, last of §3.21 in the document."""
