"""Signed, expiring grants that make a file-transfer URL (docs/fleet-operations.md).

A :class:`TransferGrant` says who may transfer what until when: one charge point, one kind of
transfer (:class:`~ocpp16csms.stores.device_state.TransferKind`), the request id (GetLog's and
SignedUpdateFirmware's; None for GetDiagnostics and UpdateFirmware), the firmware file name for
a download, and a random transfer id that makes every URL unguessable. :class:`GrantSigner`
turns a grant into a URL-safe token with an HMAC-SHA256 tag under a key the host gives, so any
process holding the key can check a URL another made. Pure: time is passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import attrs

from ..errors import CsmsError
from ..stores.device_state import TransferKind

__all__ = ["GrantError", "GrantExpired", "GrantSigner", "TransferGrant"]

_VERSION = 1
_KINDS = tuple(TransferKind)
_TAG_BYTES = 16  # 128 bits of HMAC-SHA256: forging one takes 2**128 tries
_HEAD = struct.Struct(">BBqB")  # version, kind, expiry (Unix seconds), has request id
_MIN_KEY_BYTES = 16


class GrantError(CsmsError):
    """A token is malformed, or not signed by any of our keys (HTTP 403)."""


class GrantExpired(GrantError):
    """A token was signed by us but its grant has expired (HTTP 403, saying so)."""


def _aware(_: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} {value!r} is naive; it must be timezone-aware")


@attrs.frozen(kw_only=True)
class TransferGrant:
    """Permission for one file transfer; ``transfer_id`` is 12 random bytes (hex in names)."""

    kind: TransferKind = attrs.field(converter=TransferKind)
    charge_point_id: str = attrs.field(validator=attrs.validators.min_len(1))
    request_id: int | None = None
    expires_at: datetime = attrs.field(validator=_aware)
    transfer_id: bytes = attrs.field(factory=lambda: secrets.token_bytes(12))
    file_name: str | None = None

    @property
    def transfer_hex(self) -> str:
        """The transfer id as 24 hex digits."""
        return self.transfer_id.hex()

    @property
    def is_download(self) -> bool:
        """Whether the grant serves firmware (rather than receiving an upload)."""
        return self.kind in (TransferKind.FIRMWARE, TransferKind.SIGNED_FIRMWARE)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise GrantError("the token is not base64url") from None


class GrantSigner:
    """Signs and checks grants with HMAC-SHA256 under ``key`` (at least 16 bytes).

    ``old_keys`` are still accepted when checking (key rotation), never used to sign.
    The key never appears in a token, a log record or a repr.
    """

    def __init__(self, key: bytes, *, old_keys: Iterable[bytes] = ()) -> None:
        keys = [key, *old_keys]
        for k in keys:
            if not isinstance(k, bytes | bytearray) or len(k) < _MIN_KEY_BYTES:
                raise ValueError(f"a grant key must be at least {_MIN_KEY_BYTES} bytes")
        self._keys = tuple(bytes(k) for k in keys)

    def __repr__(self) -> str:
        return f"GrantSigner(<{len(self._keys)} key(s)>)"

    def grant(
        self,
        kind: TransferKind,
        charge_point_id: str,
        *,
        now: datetime,
        valid_for: float,
        request_id: int | None = None,
        file_name: str | None = None,
    ) -> TransferGrant:
        """A new grant with a fresh transfer id, valid for ``valid_for`` seconds from ``now``."""
        if not valid_for > 0:
            raise ValueError(f"valid_for must be a positive number of seconds, got {valid_for!r}")
        return TransferGrant(
            kind=kind,
            charge_point_id=charge_point_id,
            request_id=request_id,
            expires_at=now + timedelta(seconds=valid_for),
            file_name=file_name,
        )

    def token(self, grant: TransferGrant) -> str:
        """The URL-safe token of ``grant`` (expiry kept to the whole second, rounded up)."""
        expires = int(-(-grant.expires_at.timestamp() // 1))
        request_id = grant.request_id
        if request_id is not None and not -(2**63) <= request_id < 2**63:
            raise ValueError(f"request id {request_id} does not fit a token")
        cp = grant.charge_point_id.encode("utf-8", "surrogatepass")
        if len(cp) > 255 or len(grant.transfer_id) != 12:
            raise ValueError("the charge point id is too long for a token")
        payload = _HEAD.pack(_VERSION, _KINDS.index(grant.kind), expires, request_id is not None)
        payload += struct.pack(">q", request_id or 0) if request_id is not None else b""
        payload += grant.transfer_id + bytes((len(cp),)) + cp
        payload += (grant.file_name or "").encode("utf-8", "surrogatepass")
        return _b64(payload + self._tag(self._keys[0], payload))

    def verify(self, token: str, *, now: datetime | None) -> TransferGrant:
        """The grant ``token`` carries; :class:`GrantExpired` once it has expired at ``now``
        (None: expiry not checked, to read an old URL back), and :class:`GrantError` for
        anything not made by :meth:`token` under one of our keys."""
        data = _unb64(token)
        if len(data) < _HEAD.size + 13 + _TAG_BYTES:
            raise GrantError("the token is too short")
        payload, tag = data[:-_TAG_BYTES], data[-_TAG_BYTES:]
        if not any(hmac.compare_digest(tag, self._tag(k, payload)) for k in self._keys):
            raise GrantError("the token is not signed by this central system")
        version, kind, expires, has_request = _HEAD.unpack_from(payload)
        if version != _VERSION or kind >= len(_KINDS):
            raise GrantError("the token has an unknown version or kind")
        position = _HEAD.size
        request_id = None
        if has_request:
            (request_id,) = struct.unpack_from(">q", payload, position)
            position += 8
        transfer_id = payload[position : position + 12]
        length = payload[position + 12]
        position += 13
        try:
            cp = payload[position : position + length].decode("utf-8", "surrogatepass")
            name = payload[position + length :].decode("utf-8", "surrogatepass")
            grant = TransferGrant(
                kind=_KINDS[kind],
                charge_point_id=cp,
                request_id=request_id,
                expires_at=datetime.fromtimestamp(expires, UTC),
                transfer_id=transfer_id,
                file_name=name or None,
            )
        except (UnicodeDecodeError, ValueError, OverflowError, OSError):
            raise GrantError("the token's grant is malformed") from None
        if now is not None and now >= grant.expires_at:
            raise GrantExpired(f"the transfer grant expired at {grant.expires_at.isoformat()}")
        return grant

    @staticmethod
    def _tag(key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, b"ocpp16csms transfer grant\x00" + payload, hashlib.sha256).digest()[
            :_TAG_BYTES
        ]
