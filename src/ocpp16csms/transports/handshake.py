"""The WebSocket handshake rules, as pure functions (OCPP-J 1.6 §3, security whitepaper §2).

Kept apart from any server library, as wsproto keeps its handshake apart from its frame
protocol: the charge point id from the path, the ``ocpp1.6`` subprotocol, HTTP Basic
credentials, and the security profile decision. Every adapter (websockets, ASGI, a host's own)
calls :func:`decide` and turns a refusal into its HTTP status.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable
from functools import cache
from urllib.parse import unquote

import attrs

from ..engine import UnknownChargePointPolicy
from ..errors import RemoteProtocolError
from ..profiles.security.passwords import DEFAULT_ITERATIONS, hash_password, verify_password
from ..stores import ChargePointRecord

__all__ = [
    "MAX_CHARGE_POINT_ID_LENGTH",
    "REFUSAL_CAUSES",
    "SUBPROTOCOL",
    "HandshakeOptions",
    "HandshakeRefused",
    "Peer",
    "basic_credentials",
    "charge_point_id_from_path",
    "decide",
    "password_check_needed",
    "select_subprotocol",
    "single_header",
    "unknown_charge_points_allowed",
]

SUBPROTOCOL = "ocpp1.6"
"""The WebSocket subprotocol of OCPP 1.6J (OCPP-J §3.1.2)."""
MAX_CHARGE_POINT_ID_LENGTH = 48
"""Longest charge point id accepted in the path (OCPP 1.6 sets none; 2.0.1 says 48)."""
REFUSAL_CAUSES = frozenset(
    {
        "no_endpoint",
        "bad_charge_point_id",
        "no_subprotocol",
        "unknown_charge_point",
        "tls_required",
        "basic_auth_failed",
        "certificate_mismatch",
        "store_unavailable",
        "throttled",
        "duplicate_header",
        "other",
    }
)
"""Every :attr:`HandshakeRefused.cause` the shipped transports give."""


class HandshakeRefused(RemoteProtocolError):
    """The upgrade is refused with HTTP ``status``; nothing reaches the central system.

    ``reason`` is the text sent to the client; ``cause`` is one of :data:`REFUSAL_CAUSES`, a
    fixed set fit for a metric label (a reason may quote the path). ``retry_after`` (seconds)
    goes out as a ``Retry-After`` header (429 and 503).
    """

    def __init__(
        self,
        status: int,
        reason: str,
        cause: str = "other",
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason
        self.cause = cause
        self.retry_after = retry_after


@attrs.frozen(kw_only=True)
class HandshakeOptions:
    """Handshake policy shared by the adapters."""

    path_prefix: str = "/ocpp"
    """Only paths under this prefix are served (``""`` serves any path)."""
    require_subprotocol: bool = True
    """Refuse a client that does not offer ``ocpp1.6`` (some charge points omit it)."""
    allow_unknown_charge_points: bool | None = None
    """Whether charge points the store does not know may connect (with
    ``default_security_profile``). ``None``: as the central system's ``unknown_charge_points``
    policy says: under ``REJECT`` they are refused with 404 (OCPP-J §3.2, errata 3.68), under
    ``PENDING`` and ``ACCEPT`` they connect and their BootNotification registers them (see
    :func:`unknown_charge_points_allowed`). ``True`` or ``False`` decides alone."""
    default_security_profile: int = 0
    max_id_length: int = MAX_CHARGE_POINT_ID_LENGTH
    allow_unsafe_ids: bool = False
    """Accept ids that are dot segments (``.``, ``..``) or hold a ``/`` (sent as ``%2F``), and
    paths with dot segments. Refused (400) by default: hosts build file paths, URLs and keys
    from ids, and proxies normalise such paths differently."""
    password_check_threads: int = attrs.field(default=2)
    """Worker threads that may hash passwords at once (PBKDF2 takes tens of milliseconds);
    further checks wait their turn, so a connect storm cannot take every thread."""

    @password_check_threads.validator
    def _check_threads(self, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"password_check_threads must be a whole number >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class Peer:
    """What the transport knows about a connecting client."""

    path: str
    subprotocols: tuple[str, ...] = ()
    authorization: str | None = None
    tls: bool = False
    client_certificate_names: tuple[str, ...] = ()
    """Common names in the subject of a verified TLS client certificate (profile 3)."""
    address: str | None = None
    """The client's network address, when known (failed authentications are counted per
    address, see :class:`~ocpp16csms.transports.AuthThrottle`)."""


def charge_point_id_from_path(path: str, options: HandshakeOptions) -> str:
    """The URL-decoded last path segment under the prefix; refuse an empty or over-long id,
    and (unless ``allow_unsafe_ids``) a dot segment or an id holding ``/``."""
    path = path.split("?", 1)[0]
    prefix = options.path_prefix.rstrip("/")
    if prefix and not (path == prefix or path.startswith(prefix + "/")):
        raise HandshakeRefused(404, f"no OCPP endpoint at {path!r}", "no_endpoint")
    raw = path[len(prefix) :].strip("/") if prefix else path.strip("/")
    segments = raw.split("/")
    raw = segments[-1]
    try:
        charge_point_id = unquote(raw, errors="strict") if raw else ""
    except UnicodeDecodeError:
        raise HandshakeRefused(
            400, "the charge point id is not UTF-8", "bad_charge_point_id"
        ) from None
    if not options.allow_unsafe_ids and (
        "/" in charge_point_id
        or any(unquote(segment, errors="replace") in (".", "..") for segment in segments)
    ):
        raise HandshakeRefused(
            400, "a charge point id may not be '.' or '..' nor hold '/'", "bad_charge_point_id"
        )
    if not charge_point_id:
        raise HandshakeRefused(404, "the path names no charge point", "bad_charge_point_id")
    if len(charge_point_id) > options.max_id_length:
        raise HandshakeRefused(
            400,
            f"a charge point id is at most {options.max_id_length} characters",
            "bad_charge_point_id",
        )
    if not charge_point_id.isprintable():
        # Control and format characters (C0, DEL, C1, bidi marks) have no place in an id.
        raise HandshakeRefused(
            400, "the charge point id holds unprintable characters", "bad_charge_point_id"
        )
    return charge_point_id


def select_subprotocol(offered: Iterable[str], options: HandshakeOptions) -> str | None:
    """``ocpp1.6`` when offered; None when not offered and that is allowed; else refuse."""
    offered = [p.strip() for p in offered]
    if SUBPROTOCOL in offered:
        return SUBPROTOCOL
    if options.require_subprotocol:
        raise HandshakeRefused(
            400, f"the client must offer the {SUBPROTOCOL} subprotocol", "no_subprotocol"
        )
    return None


def single_header(name: str, values: Iterable[str]) -> str | None:
    """The one value of header ``name``, None when absent; 400 when it is sent more than once
    (two ``Authorization`` headers are an attack or a broken client, never a choice to make)."""
    found = list(values)
    if len(found) > 1:
        raise HandshakeRefused(400, f"more than one {name} header", "duplicate_header")
    return found[0] if found else None


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """The (username, password) of an HTTP Basic ``Authorization`` header, or None.

    None too when either holds a control character: PBKDF2 pads its key with NULs, so
    ``"pw\\x00"`` would otherwise pass for ``"pw"``."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        # ValueError: a header value with non-ASCII characters cannot be base64.
        return None
    username, sep, password = decoded.partition(":")
    if not sep or _CONTROL.search(decoded):
        return None
    return username, password


def password_check_needed(
    record: ChargePointRecord | None,
    options: HandshakeOptions,
    unknown_policy: UnknownChargePointPolicy | None = None,
) -> bool:
    """Whether :func:`decide` may hash a password (profiles 1 and 2, or an unknown id refused
    after the same work): the slow part, to run off the event loop."""
    if record is None and not unknown_charge_points_allowed(options, unknown_policy):
        return True
    profile = record.security_profile if record is not None else options.default_security_profile
    return profile in (1, 2)


def unknown_charge_points_allowed(
    options: HandshakeOptions, policy: UnknownChargePointPolicy | None = None
) -> bool:
    """Whether a charge point the store does not know may connect.

    ``options.allow_unknown_charge_points`` when set; otherwise it follows the central
    system's ``policy`` (None: the default, ``REJECT``). A rejected unknown charge point gets an
    HTTP 404 at the handshake, as OCPP-J §3.2 says, rather than a connection whose only use is
    a BootNotification answered Rejected (errata 3.68): it holds no socket, and the charge
    point backs off as from any failed connection. ``PENDING`` and ``ACCEPT`` register the
    charge point from its BootNotification, so it must get that far.
    """
    if options.allow_unknown_charge_points is not None:
        return options.allow_unknown_charge_points
    return policy is not None and policy is not UnknownChargePointPolicy.REJECT


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@cache
def _dummy_hash() -> str:
    # What a password is checked against when there is no usable hash: the same work as a
    # real check, so the time taken does not tell registered ids from others.
    return hash_password(secrets.token_urlsafe(16), iterations=DEFAULT_ITERATIONS)


def _usable(password_hash: str | None) -> bool:
    return password_hash is not None and len(password_hash.split("$")) == 4


def _password_matches(peer: Peer, charge_point_id: str, password_hash: str | None) -> bool:
    credentials = basic_credentials(peer.authorization)
    if credentials is None:
        return False
    username, password = credentials
    # Hashed whatever the username and whether a hash is stored: equal work for every refusal.
    stored = password_hash if _usable(password_hash) else None
    matches = verify_password(password, stored or _dummy_hash())
    return matches and stored is not None and username == charge_point_id


def decide(
    peer: Peer,
    record: ChargePointRecord | None,
    options: HandshakeOptions,
    *,
    unknown_policy: UnknownChargePointPolicy | None = None,
) -> tuple[str, str | None]:
    """Check one upgrade; return (charge point id, subprotocol) or raise HandshakeRefused.

    An unknown charge point (``record`` None) connects only when
    :func:`unknown_charge_points_allowed` says so for ``unknown_policy``, the central system's
    ``unknown_charge_points`` option.

    Security profiles (whitepaper §2): 0 no authentication; 1 Basic auth; 2 Basic auth over
    TLS; 3 TLS with a client certificate naming the charge point. The Basic username must be
    the charge point id and the password must match the stored hash. Whenever credentials
    come, a password is hashed, against a dummy when there is no usable stored hash (an
    unknown id, a record without one), so the time taken does not tell registered ids apart.
    """
    charge_point_id = charge_point_id_from_path(peer.path, options)
    subprotocol = select_subprotocol(peer.subprotocols, options)
    if record is None:
        if not unknown_charge_points_allowed(options, unknown_policy):
            _password_matches(peer, charge_point_id, None)  # the work of a wrong password
            raise HandshakeRefused(404, "unknown charge point", "unknown_charge_point")
        profile = options.default_security_profile
        password_hash = None
    else:
        profile = record.security_profile
        password_hash = record.password_hash
    if profile >= 2 and not peer.tls:
        raise HandshakeRefused(403, f"security profile {profile} requires TLS", "tls_required")
    if profile in (1, 2):
        if not _password_matches(peer, charge_point_id, password_hash):
            raise HandshakeRefused(401, "HTTP Basic authentication failed", "basic_auth_failed")
    elif profile == 3 and charge_point_id not in peer.client_certificate_names:
        raise HandshakeRefused(
            401, "the client certificate does not name this charge point", "certificate_mismatch"
        )
    return charge_point_id, subprotocol
