""":class:`~ocpp16csms.profiles.plug_and_charge.PncCertificateStore` in PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ...profiles.plug_and_charge.codec import pnc_converter
from ...profiles.plug_and_charge.datatypes import CertificateHashData
from ...profiles.plug_and_charge.enums import CertificateSigningUse, GetCertificateIdUse
from ...profiles.plug_and_charge.store import (
    InstalledCertificate,
    SigningRequest,
    V2GCertificateState,
    certificate_key,
)
from .._lossless import escape_text, instant_micros, unescape_text
from ._database import Cursor, PostgresStore
from ._values import (
    enum_text,
    instant,
    member,
    offset_text,
    opt_instant,
    opt_offset_text,
    opt_text,
    opt_when,
    read_opt_text,
    read_text,
    text,
    when,
)

__all__ = ["PostgresPncCertificateStore"]

# Hash data under its OCPP 2.0.1 names (customData included), as the Plug & Charge codec
# writes it on the wire.
_CONVERTER = pnc_converter()

# First key of the two-key advisory locks that serialise replace_installed per charge point
# (the second is a hash of its id); "pncc" in ASCII, apart from the charging profiles' space.
_LOCK_SPACE = int.from_bytes(b"pncc", "big")

_KEY_COLUMNS = (
    "key_hash_algorithm = %s AND key_issuer_name_hash = %s AND key_issuer_key_hash = %s"
    " AND key_serial_number = %s"
)

_PUT_INSTALLED = (
    "INSERT INTO pnc_installed_certificates (charge_point_id, certificate_type,"
    " key_hash_algorithm, key_issuer_name_hash, key_issuer_key_hash, key_serial_number,"
    " hash_data, child_hash_data, certificate, updated_at, updated_at_offset)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::interval)"
    " ON CONFLICT (charge_point_id, certificate_type, key_hash_algorithm, key_issuer_name_hash,"
    " key_issuer_key_hash, key_serial_number) DO UPDATE SET hash_data = excluded.hash_data,"
    " child_hash_data = excluded.child_hash_data, certificate = excluded.certificate,"
    " updated_at = excluded.updated_at, updated_at_offset = excluded.updated_at_offset"
)


def _dump(value: Any) -> str:
    """JSON text of an unstructured value, escaped (a JSON string may hold a lone surrogate)."""
    return escape_text(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def _load(stored: str) -> Any:
    return json.loads(unescape_text(stored))


def _key(data: CertificateHashData) -> tuple[str, ...]:
    return tuple(text(part) for part in certificate_key(data))


def _installed(row: Mapping[str, Any]) -> InstalledCertificate:
    return InstalledCertificate(
        charge_point_id=read_text(row["charge_point_id"]),
        certificate_type=member(GetCertificateIdUse, row["certificate_type"]),
        hash_data=_CONVERTER.structure(_load(row["hash_data"]), CertificateHashData),
        child_hash_data=tuple(
            _CONVERTER.structure(item, CertificateHashData)
            for item in _load(row["child_hash_data"])
        ),
        certificate=read_opt_text(row["certificate"]),
        updated_at=when(row["updated_at"], row["updated_at_offset"]),
    )


def _installed_values(certificate: InstalledCertificate) -> tuple[object, ...]:
    return (
        text(certificate.charge_point_id),
        enum_text(certificate.certificate_type),
        *_key(certificate.hash_data),
        _dump(_CONVERTER.unstructure(certificate.hash_data)),
        _dump([_CONVERTER.unstructure(child) for child in certificate.child_hash_data]),
        opt_text(certificate.certificate),
        instant(certificate.updated_at),
        offset_text(certificate.updated_at),
    )


def _installed_order(certificate: InstalledCertificate) -> tuple[str, str]:
    # The protocol's order (type, then the key's parts joined with "/"), applied here rather
    # than by the database's collation, so it matches the in-memory store.
    return str(certificate.certificate_type), "/".join(certificate.key)


def _signing(row: Mapping[str, Any]) -> SigningRequest:
    return SigningRequest(
        charge_point_id=read_text(row["charge_point_id"]),
        request_id=read_text(row["request_id"]),
        csr=read_text(row["csr"]),
        certificate_type=member(CertificateSigningUse, row["certificate_type"]),
        received_at=when(row["received_at"], row["received_at_offset"]),
        attempts=row["attempts"],
        last_error=read_opt_text(row["last_error"]),
    )


def _signing_order(request: SigningRequest) -> tuple[str, int, str]:
    return request.charge_point_id, instant_micros(request.received_at), request.request_id


def _v2g(row: Mapping[str, Any]) -> V2GCertificateState:
    return V2GCertificateState(
        charge_point_id=read_text(row["charge_point_id"]),
        not_after=when(row["not_after"], row["not_after_offset"]),
        installed_at=when(row["installed_at"], row["installed_at_offset"]),
        certificate_chain=read_opt_text(row["certificate_chain"]),
        renewal_requested_at=opt_when(
            row["renewal_requested_at"], row["renewal_requested_at_offset"]
        ),
    )


def _v2g_order(state: V2GCertificateState) -> tuple[int, str]:
    return instant_micros(state.not_after), state.charge_point_id


class PostgresPncCertificateStore(PostgresStore):
    """:class:`~ocpp16csms.profiles.plug_and_charge.PncCertificateStore` in PostgreSQL (made
    by :func:`~ocpp16csms.stores.postgresql.postgresql_stores`).

    Three tables; hash data is JSON under its OCPP 2.0.1 names, and an installed certificate's
    key (:func:`~ocpp16csms.profiles.plug_and_charge.certificate_key`) is four columns.
    Every write is one statement except :meth:`replace_installed`, one transaction under a
    per-charge-point advisory lock, so two replacements of one charge point's certificates, in
    any processes, run one after the other and never leave a mix of both.
    """

    async def installed(self, charge_point_id: str) -> Sequence[InstalledCertificate]:
        def work(cursor: Cursor) -> list[InstalledCertificate]:
            rows = cursor.execute(
                "SELECT * FROM pnc_installed_certificates WHERE charge_point_id = %s",
                (text(charge_point_id),),
            ).fetchall()
            return sorted((_installed(row) for row in rows), key=_installed_order)

        return await self._db.read(work)

    async def put_installed(self, certificate: InstalledCertificate) -> None:
        values = _installed_values(certificate)

        def work(cursor: Cursor) -> None:
            cursor.execute(_PUT_INSTALLED, values)

        await self._db.write_one(work)

    async def replace_installed(
        self,
        charge_point_id: str,
        certificate_types: Iterable[GetCertificateIdUse],
        certificates: Iterable[InstalledCertificate],
    ) -> None:
        kinds = sorted({enum_text(kind) for kind in certificate_types})
        added = list(certificates)
        if any(c.charge_point_id != charge_point_id for c in added):
            raise ValueError("replace_installed takes certificates of its charge point only")
        cp = text(charge_point_id)
        rows = [_installed_values(c) for c in added]

        def work(cursor: Cursor) -> None:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_SPACE, cp))
            if kinds:
                cursor.execute(
                    "DELETE FROM pnc_installed_certificates"
                    " WHERE charge_point_id = %s AND certificate_type = ANY(%s)",
                    (cp, kinds),
                )
            if rows:
                cursor.executemany(_PUT_INSTALLED, rows)

        await self._db.write(work)

    async def remove_installed(self, charge_point_id: str, hash_data: CertificateHashData) -> bool:
        params = (text(charge_point_id), *_key(hash_data))

        def work(cursor: Cursor) -> bool:
            cursor.execute(
                "DELETE FROM pnc_installed_certificates"
                f" WHERE charge_point_id = %s AND {_KEY_COLUMNS}",
                params,
            )
            return cursor.rowcount > 0

        return await self._db.write_one(work)

    async def save_signing_request(self, request: SigningRequest) -> None:
        values = (
            text(request.charge_point_id),
            text(request.request_id),
            text(request.csr),
            enum_text(request.certificate_type),
            instant(request.received_at),
            offset_text(request.received_at),
            request.attempts,
            opt_text(request.last_error),
        )

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "INSERT INTO pnc_signing_requests (charge_point_id, request_id, csr,"
                " certificate_type, received_at, received_at_offset, attempts, last_error)"
                " VALUES (%s, %s, %s, %s, %s, %s::interval, %s, %s)"
                " ON CONFLICT (charge_point_id, request_id) DO UPDATE SET csr = excluded.csr,"
                " certificate_type = excluded.certificate_type,"
                " received_at = excluded.received_at,"
                " received_at_offset = excluded.received_at_offset,"
                " attempts = excluded.attempts, last_error = excluded.last_error",
                values,
            )

        await self._db.write_one(work)

    async def signing_requests(
        self, charge_point_id: str | None = None
    ) -> Sequence[SigningRequest]:
        query = "SELECT * FROM pnc_signing_requests"
        params: tuple[object, ...] = ()
        if charge_point_id is not None:
            query += " WHERE charge_point_id = %s"
            params = (text(charge_point_id),)

        def work(cursor: Cursor) -> list[SigningRequest]:
            rows = cursor.execute(query, params).fetchall()
            return sorted((_signing(row) for row in rows), key=_signing_order)

        return await self._db.read(work)

    async def delete_signing_request(self, charge_point_id: str, request_id: str) -> bool:
        params = (text(charge_point_id), text(request_id))

        def work(cursor: Cursor) -> bool:
            cursor.execute(
                "DELETE FROM pnc_signing_requests WHERE charge_point_id = %s AND request_id = %s",
                params,
            )
            return cursor.rowcount > 0

        return await self._db.write_one(work)

    async def save_v2g_certificate(self, state: V2GCertificateState) -> None:
        values = (
            text(state.charge_point_id),
            instant(state.not_after),
            offset_text(state.not_after),
            instant(state.installed_at),
            offset_text(state.installed_at),
            opt_text(state.certificate_chain),
            opt_instant(state.renewal_requested_at),
            opt_offset_text(state.renewal_requested_at),
        )

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "INSERT INTO pnc_v2g_certificates (charge_point_id, not_after, not_after_offset,"
                " installed_at, installed_at_offset, certificate_chain, renewal_requested_at,"
                " renewal_requested_at_offset)"
                " VALUES (%s, %s, %s::interval, %s, %s::interval, %s, %s, %s::interval)"
                " ON CONFLICT (charge_point_id) DO UPDATE SET not_after = excluded.not_after,"
                " not_after_offset = excluded.not_after_offset,"
                " installed_at = excluded.installed_at,"
                " installed_at_offset = excluded.installed_at_offset,"
                " certificate_chain = excluded.certificate_chain,"
                " renewal_requested_at = excluded.renewal_requested_at,"
                " renewal_requested_at_offset = excluded.renewal_requested_at_offset",
                values,
            )

        await self._db.write_one(work)

    async def v2g_certificate(self, charge_point_id: str) -> V2GCertificateState | None:
        def work(cursor: Cursor) -> V2GCertificateState | None:
            row = cursor.execute(
                "SELECT * FROM pnc_v2g_certificates WHERE charge_point_id = %s",
                (text(charge_point_id),),
            ).fetchone()
            return None if row is None else _v2g(row)

        return await self._db.read(work)

    async def v2g_expiring(self, before: datetime) -> Sequence[V2GCertificateState]:
        bound = instant(before)

        def work(cursor: Cursor) -> list[V2GCertificateState]:
            rows = cursor.execute(
                "SELECT * FROM pnc_v2g_certificates WHERE not_after <= %s", (bound,)
            ).fetchall()
            return sorted((_v2g(row) for row in rows), key=_v2g_order)

        return await self._db.read(work)
