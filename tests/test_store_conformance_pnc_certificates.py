"""Conformance suite for :class:`~ocpp16csms.profiles.plug_and_charge.PncCertificateStore`.

Runs against every factory in ``test_store_conformance.STORE_FACTORIES`` on asyncio and trio;
the docstrings of :class:`PncCertificateStore` are the contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from ocpp16csms import Stores
from ocpp16csms.enums import HashAlgorithm
from ocpp16csms.profiles.plug_and_charge import (
    CertificateHashData,
    CertificateSigningUse,
    CustomData,
    GetCertificateIdUse,
    InstalledCertificate,
    PncCertificateStore,
    SigningRequest,
    V2GCertificateState,
)
from test_store_conformance import STORE_FACTORIES, StoreFactory, opened

pytestmark = pytest.mark.anyio

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
V2G_ROOT = GetCertificateIdUse.V2G_ROOT_CERTIFICATE
MO_ROOT = GetCertificateIdUse.MO_ROOT_CERTIFICATE
CHAIN = GetCertificateIdUse.V2G_CERTIFICATE_CHAIN


@pytest.fixture(params=list(STORE_FACTORIES))
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    with opened(STORE_FACTORIES[request.param]) as made:
        yield made


@pytest.fixture
def store(stores: Stores) -> PncCertificateStore:
    certificates: PncCertificateStore = stores.require("pnc_certificates")
    return certificates


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def hashes(
    serial: str, *, name: str = "aa", custom: CustomData | None = None
) -> CertificateHashData:
    return CertificateHashData(
        hash_algorithm=HashAlgorithm.SHA256,
        issuer_name_hash=name * 32,
        issuer_key_hash="bb" * 32,
        serial_number=serial,
        custom_data=custom,
    )


def installed(
    serial: str,
    kind: GetCertificateIdUse = V2G_ROOT,
    charge_point_id: str = "CP1",
    **fields: object,
) -> InstalledCertificate:
    return InstalledCertificate(
        charge_point_id=charge_point_id,
        certificate_type=kind,
        hash_data=hashes(serial),
        updated_at=fields.pop("updated_at", T0),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def signing(request_id: str, charge_point_id: str = "CP1", minutes: float = 0) -> SigningRequest:
    return SigningRequest(
        charge_point_id=charge_point_id,
        request_id=request_id,
        csr="-----BEGIN CERTIFICATE REQUEST-----\nMII=\n-----END CERTIFICATE REQUEST-----\n",
        certificate_type=CertificateSigningUse.V2G_CERTIFICATE,
        received_at=at(minutes),
    )


def v2g(charge_point_id: str, not_after: datetime, **fields: object) -> V2GCertificateState:
    return V2GCertificateState(
        charge_point_id=charge_point_id,
        not_after=not_after,
        installed_at=T0,
        **fields,  # type: ignore[arg-type]
    )


def test_the_store_satisfies_its_protocol(store: PncCertificateStore) -> None:
    assert isinstance(store, PncCertificateStore)


@pytest.mark.parametrize("factory", list(STORE_FACTORIES.values()), ids=list(STORE_FACTORIES))
async def test_each_factory_call_gives_an_independent_store(factory: StoreFactory) -> None:
    with opened(factory) as first, opened(factory) as second:
        await first.require("pnc_certificates").put_installed(installed("1"))
        assert await second.require("pnc_certificates").installed("CP1") == []


# --- installed certificates ----------------------------------------------------------------


async def test_installed_round_trip_keeps_every_field(store: PncCertificateStore) -> None:
    certificate = InstalledCertificate(
        charge_point_id="CP1",
        certificate_type=CHAIN,
        hash_data=hashes("1a", custom=CustomData(vendor_id="acme", extra={"n": [1, "x"]})),
        child_hash_data=(hashes("2b", name="cc"), hashes("3c", name="dd")),
        certificate="-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n",
        updated_at=datetime(2024, 5, 1, 14, 30, 15, 250000, tzinfo=PLUS_TWO),
    )
    await store.put_installed(certificate)
    assert await store.installed("CP1") == [certificate]
    assert await store.installed("CP2") == []


async def test_put_replaces_the_same_type_and_key_only(store: PncCertificateStore) -> None:
    await store.put_installed(installed("1", certificate="old"))
    await store.put_installed(installed("1", MO_ROOT))
    # The same certificate named with other hex case and leading zeros is the same key.
    shouting = attrs.evolve(
        installed("1", certificate="new", updated_at=at(5)),
        hash_data=CertificateHashData(
            hash_algorithm=HashAlgorithm.SHA256,
            issuer_name_hash="AA" * 32,
            issuer_key_hash="BB" * 32,
            serial_number="0001",
        ),
    )
    await store.put_installed(shouting)
    listed = await store.installed("CP1")
    assert [(c.certificate_type, c.certificate) for c in listed] == [
        (MO_ROOT, None),
        (V2G_ROOT, "new"),
    ]


async def test_installed_is_ordered_by_type_then_key(store: PncCertificateStore) -> None:
    for certificate in (installed("3"), installed("1", CHAIN), installed("2"), installed("1")):
        await store.put_installed(certificate)
    listed = await store.installed("CP1")
    # Types by their value: "V2GCertificateChain" sorts before "V2GRootCertificate".
    assert [(c.certificate_type, c.hash_data.serial_number) for c in listed] == [
        (CHAIN, "1"),
        (V2G_ROOT, "1"),
        (V2G_ROOT, "2"),
        (V2G_ROOT, "3"),
    ]


async def test_replace_installed_swaps_the_named_types_only(store: PncCertificateStore) -> None:
    await store.put_installed(installed("1"))
    await store.put_installed(installed("2"))
    await store.put_installed(installed("3", MO_ROOT))
    await store.put_installed(installed("4", charge_point_id="CP2"))
    await store.replace_installed("CP1", [V2G_ROOT, CHAIN], [installed("5"), installed("6", CHAIN)])
    listed = await store.installed("CP1")
    assert sorted(c.hash_data.serial_number for c in listed) == ["3", "5", "6"]
    assert [c.hash_data.serial_number for c in await store.installed("CP2")] == ["4"]
    await store.replace_installed("CP1", [MO_ROOT], [])
    assert sorted(c.hash_data.serial_number for c in await store.installed("CP1")) == ["5", "6"]


async def test_replace_installed_refuses_another_charge_points_certificate(
    store: PncCertificateStore,
) -> None:
    await store.put_installed(installed("1"))
    with pytest.raises(ValueError, match="charge point"):
        await store.replace_installed("CP1", [V2G_ROOT], [installed("2", charge_point_id="CP2")])
    assert [c.hash_data.serial_number for c in await store.installed("CP1")] == ["1"]


async def test_remove_installed_by_key_of_any_type(store: PncCertificateStore) -> None:
    await store.put_installed(installed("1"))
    await store.put_installed(installed("1", MO_ROOT))
    await store.put_installed(installed("2"))
    await store.put_installed(installed("1", charge_point_id="CP2"))
    assert await store.remove_installed("CP1", hashes("01")) is True
    assert [c.hash_data.serial_number for c in await store.installed("CP1")] == ["2"]
    assert await store.remove_installed("CP1", hashes("1")) is False
    assert len(await store.installed("CP2")) == 1


# --- signing requests ------------------------------------------------------------------------


async def test_signing_requests_round_trip_and_order(store: PncCertificateStore) -> None:
    late = attrs.evolve(signing("b", minutes=5), attempts=2, last_error="CallTimeout: no answer")
    for request in (late, signing("a", minutes=9), signing("z", "CP0", 20), signing("c")):
        await store.save_signing_request(request)
    assert [r.request_id for r in await store.signing_requests("CP1")] == ["c", "b", "a"]
    assert [r.request_id for r in await store.signing_requests()] == ["z", "c", "b", "a"]
    assert (await store.signing_requests("CP1"))[1] == late
    assert await store.signing_requests("CP9") == []


async def test_save_signing_request_replaces_the_same_id(store: PncCertificateStore) -> None:
    await store.save_signing_request(signing("a"))
    again = attrs.evolve(signing("a"), attempts=1)
    await store.save_signing_request(again)
    await store.save_signing_request(signing("a", "CP2"))
    assert await store.signing_requests("CP1") == [again]


async def test_delete_signing_request(store: PncCertificateStore) -> None:
    await store.save_signing_request(signing("a"))
    await store.save_signing_request(signing("a", "CP2"))
    assert await store.delete_signing_request("CP1", "a") is True
    assert await store.delete_signing_request("CP1", "a") is False
    assert [r.charge_point_id for r in await store.signing_requests()] == ["CP2"]


# --- V2G certificates ------------------------------------------------------------------------


async def test_v2g_certificate_round_trip_and_replace(store: PncCertificateStore) -> None:
    assert await store.v2g_certificate("CP1") is None
    first = v2g("CP1", at(60), certificate_chain="PEM", renewal_requested_at=at(1))
    await store.save_v2g_certificate(first)
    assert await store.v2g_certificate("CP1") == first
    second = v2g("CP1", datetime(2025, 1, 1, 2, 0, tzinfo=PLUS_TWO))
    await store.save_v2g_certificate(second)
    assert await store.v2g_certificate("CP1") == second
    stored = await store.v2g_certificate("CP1")
    assert stored is not None
    assert (stored.certificate_chain, stored.renewal_requested_at) == (None, None)


async def test_v2g_expiring_is_inclusive_and_ordered(store: PncCertificateStore) -> None:
    await store.save_v2g_certificate(v2g("CP3", at(30)))
    await store.save_v2g_certificate(v2g("CP1", at(10)))
    await store.save_v2g_certificate(v2g("CP2", at(10)))
    await store.save_v2g_certificate(v2g("CP4", at(31)))
    due = await store.v2g_expiring(at(30))
    assert [s.charge_point_id for s in due] == ["CP1", "CP2", "CP3"]
    # The same instant in another offset is the same bound.
    same = at(30).astimezone(PLUS_TWO)
    assert [s.charge_point_id for s in await store.v2g_expiring(same)] == ["CP1", "CP2", "CP3"]
    assert await store.v2g_expiring(at(9)) == []


def test_records_refuse_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        v2g("CP1", datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        attrs.evolve(signing("a"), received_at=datetime(2024, 1, 1))
