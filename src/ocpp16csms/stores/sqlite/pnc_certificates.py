"""SQLite store of the Plug & Charge certificate state (installed, signing, V2G expiry)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime

from ...profiles.plug_and_charge.codec import pnc_converter
from ...profiles.plug_and_charge.datatypes import CertificateHashData
from ...profiles.plug_and_charge.enums import CertificateSigningUse, GetCertificateIdUse
from ...profiles.plug_and_charge.store import (
    InstalledCertificate,
    SigningRequest,
    V2GCertificateState,
    certificate_key,
)
from ._database import (
    _dump,
    _enum_text,
    _member,
    _micros,
    _opt_text,
    _opt_when,
    _SqliteStore,
    _text,
    _when,
)

__all__ = ["SqlitePncCertificateStore"]

_CONVERTER = pnc_converter()


def _key_text(data: CertificateHashData) -> str:
    return "/".join(certificate_key(data))


def _hash_data(text: str) -> CertificateHashData:
    return _CONVERTER.structure(json.loads(text), CertificateHashData)


def _installed(row: sqlite3.Row) -> InstalledCertificate:
    return InstalledCertificate(
        charge_point_id=row["charge_point_id"],
        certificate_type=_member(GetCertificateIdUse, row["certificate_type"]),
        hash_data=_hash_data(row["hash_data"]),
        child_hash_data=tuple(
            _CONVERTER.structure(item, CertificateHashData)
            for item in json.loads(row["child_hash_data"])
        ),
        certificate=row["certificate"],
        updated_at=_when(row["updated_at"]),
    )


def _installed_values(certificate: InstalledCertificate) -> tuple[object, ...]:
    return (
        certificate.charge_point_id,
        _enum_text(certificate.certificate_type),
        _key_text(certificate.hash_data),
        _dump(_CONVERTER.unstructure(certificate.hash_data)),
        _dump([_CONVERTER.unstructure(c) for c in certificate.child_hash_data]),
        certificate.certificate,
        _text(certificate.updated_at),
    )


_PUT_INSTALLED = (
    "INSERT OR REPLACE INTO pnc_installed_certificates (charge_point_id, certificate_type,"
    " certificate_key, hash_data, child_hash_data, certificate, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _signing(row: sqlite3.Row) -> SigningRequest:
    return SigningRequest(
        charge_point_id=row["charge_point_id"],
        request_id=row["request_id"],
        csr=row["csr"],
        certificate_type=_member(CertificateSigningUse, row["certificate_type"]),
        received_at=_when(row["received_at"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
    )


def _v2g(row: sqlite3.Row) -> V2GCertificateState:
    return V2GCertificateState(
        charge_point_id=row["charge_point_id"],
        not_after=_when(row["not_after"]),
        installed_at=_when(row["installed_at"]),
        certificate_chain=row["certificate_chain"],
        renewal_requested_at=_opt_when(row["renewal_requested_at"]),
    )


class SqlitePncCertificateStore(_SqliteStore):
    """:class:`~ocpp16csms.profiles.plug_and_charge.PncCertificateStore` in SQLite (made by
    :func:`sqlite_stores`): three tables, hash data as JSON under its 2.0.1 names."""

    async def installed(self, charge_point_id: str) -> Sequence[InstalledCertificate]:
        def work(db: sqlite3.Connection) -> list[InstalledCertificate]:
            rows = db.execute(
                "SELECT * FROM pnc_installed_certificates WHERE charge_point_id = ?"
                " ORDER BY certificate_type, certificate_key",
                (charge_point_id,),
            )
            return [_installed(row) for row in rows]

        return await self._db.read(work)

    async def put_installed(self, certificate: InstalledCertificate) -> None:
        values = _installed_values(certificate)

        def work(db: sqlite3.Connection) -> None:
            db.execute(_PUT_INSTALLED, values)

        await self._db.write(work)

    async def replace_installed(
        self,
        charge_point_id: str,
        certificate_types: Iterable[GetCertificateIdUse],
        certificates: Iterable[InstalledCertificate],
    ) -> None:
        kinds = sorted({_enum_text(kind) for kind in certificate_types})
        added = list(certificates)
        if any(c.charge_point_id != charge_point_id for c in added):
            raise ValueError("replace_installed takes certificates of its charge point only")
        rows = [_installed_values(c) for c in added]

        def work(db: sqlite3.Connection) -> None:
            db.executemany(
                "DELETE FROM pnc_installed_certificates"
                " WHERE charge_point_id = ? AND certificate_type = ?",
                [(charge_point_id, kind) for kind in kinds],
            )
            db.executemany(_PUT_INSTALLED, rows)

        await self._db.write(work)

    async def remove_installed(self, charge_point_id: str, hash_data: CertificateHashData) -> bool:
        key = _key_text(hash_data)

        def work(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "DELETE FROM pnc_installed_certificates"
                " WHERE charge_point_id = ? AND certificate_key = ?",
                (charge_point_id, key),
            )
            return cursor.rowcount > 0

        return await self._db.write(work)

    async def save_signing_request(self, request: SigningRequest) -> None:
        values = (
            request.charge_point_id,
            request.request_id,
            request.csr,
            _enum_text(request.certificate_type),
            _text(request.received_at),
            _micros(request.received_at),
            request.attempts,
            request.last_error,
        )

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO pnc_signing_requests (charge_point_id, request_id, csr,"
                " certificate_type, received_at, received_at_us, attempts, last_error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

        await self._db.write(work)

    async def signing_requests(
        self, charge_point_id: str | None = None
    ) -> Sequence[SigningRequest]:
        query = "SELECT * FROM pnc_signing_requests"
        params: tuple[object, ...] = ()
        if charge_point_id is not None:
            query += " WHERE charge_point_id = ?"
            params = (charge_point_id,)
        query += " ORDER BY charge_point_id, received_at_us, request_id"

        def work(db: sqlite3.Connection) -> list[SigningRequest]:
            return [_signing(row) for row in db.execute(query, params)]

        return await self._db.read(work)

    async def delete_signing_request(self, charge_point_id: str, request_id: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "DELETE FROM pnc_signing_requests WHERE charge_point_id = ? AND request_id = ?",
                (charge_point_id, request_id),
            )
            return cursor.rowcount > 0

        return await self._db.write(work)

    async def save_v2g_certificate(self, state: V2GCertificateState) -> None:
        values = (
            state.charge_point_id,
            _text(state.not_after),
            _micros(state.not_after),
            _text(state.installed_at),
            state.certificate_chain,
            _opt_text(state.renewal_requested_at),
        )

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO pnc_v2g_certificates (charge_point_id, not_after,"
                " not_after_us, installed_at, certificate_chain, renewal_requested_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )

        await self._db.write(work)

    async def v2g_certificate(self, charge_point_id: str) -> V2GCertificateState | None:
        def work(db: sqlite3.Connection) -> V2GCertificateState | None:
            row = db.execute(
                "SELECT * FROM pnc_v2g_certificates WHERE charge_point_id = ?",
                (charge_point_id,),
            ).fetchone()
            return None if row is None else _v2g(row)

        return await self._db.read(work)

    async def v2g_expiring(self, before: datetime) -> Sequence[V2GCertificateState]:
        micros = _micros(before)

        def work(db: sqlite3.Connection) -> list[V2GCertificateState]:
            rows = db.execute(
                "SELECT * FROM pnc_v2g_certificates WHERE not_after_us <= ?"
                " ORDER BY not_after_us, charge_point_id",
                (micros,),
            )
            return [_v2g(row) for row in rows]

        return await self._db.read(work)
