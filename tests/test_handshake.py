"""The WebSocket handshake rules (``ocpp16csms.transports.handshake``), as pure functions:
charge point id from the path, ``ocpp1.6`` subprotocol, HTTP Basic credentials, and the
security profile decision (profiles 0–3) with the HTTP status of every refusal."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ocpp16csms import UnknownChargePointPolicy
from ocpp16csms.messages import RegistrationStatus
from ocpp16csms.profiles.security.passwords import hash_password
from ocpp16csms.stores import ChargePointRecord
from ocpp16csms.transports import (
    MAX_CHARGE_POINT_ID_LENGTH,
    SUBPROTOCOL,
    HandshakeOptions,
    HandshakeRefused,
    Peer,
    basic_credentials,
    charge_point_id_from_path,
    decide,
    select_subprotocol,
    unknown_charge_points_allowed,
)

DEFAULT = HandshakeOptions()
PASSWORD = "s3cret-Pässwort"
# Few iterations: the tests check the rules, not the cost of guessing.
PASSWORD_HASH = hash_password(PASSWORD, iterations=1000)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def refused(call: Any, *args: Any) -> HandshakeRefused:
    with pytest.raises(HandshakeRefused) as info:
        call(*args)
    return info.value


# -- charge point id from the path --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ocpp/CP1", "CP1"),
        ("/ocpp/CP1/", "CP1"),
        ("/ocpp//CP1", "CP1"),
        ("/ocpp/CP1?token=x&y=1", "CP1"),
        ("/ocpp/CP1?", "CP1"),
        ("/ocpp/site-7/CP1", "CP1"),  # the last segment under the prefix
        ("/ocpp/CP%201", "CP 1"),
        ("/ocpp/%C3%A9t%C3%A9", "été"),
        ("/ocpp/a+b", "a+b"),  # a path is not a form: '+' stays
        ("/ocpp/%3F%23", "?#"),
    ],
)
def test_id_is_the_url_decoded_last_segment(path: str, expected: str) -> None:
    assert charge_point_id_from_path(path, DEFAULT) == expected


@pytest.mark.parametrize(("path", "expected"), [("/ocpp/A%2FB", "A/B"), ("/ocpp/A%2fB", "A/B")])
def test_an_encoded_slash_is_part_of_the_id_when_unsafe_ids_are_allowed(
    path: str, expected: str
) -> None:
    # Refused by default (tests/test_hardening_handshake.py); a separator it never is.
    assert refused(charge_point_id_from_path, path, DEFAULT).status == 400
    assert charge_point_id_from_path(path, HandshakeOptions(allow_unsafe_ids=True)) == expected


@pytest.mark.parametrize(
    ("prefix", "path", "expected"),
    [
        ("/ocpp/", "/ocpp/CP1", "CP1"),  # a trailing slash in the prefix is ignored
        ("/csms/v16", "/csms/v16/CP1", "CP1"),
        ("", "/CP1", "CP1"),
        ("", "/anything/CP1", "CP1"),
        ("", "CP1", "CP1"),
        ("/", "/CP1", "CP1"),
    ],
)
def test_prefix_handling(prefix: str, path: str, expected: str) -> None:
    options = HandshakeOptions(path_prefix=prefix)
    assert charge_point_id_from_path(path, options) == expected


@pytest.mark.parametrize(
    ("prefix", "path"),
    [
        ("/ocpp", "/CP1"),
        ("/ocpp", "/ocppCP1"),  # a prefix is a whole segment, not a string prefix
        ("/ocpp", "/OCPP/CP1"),
        ("/ocpp", "/other/ocpp/CP1"),
        ("/csms/v16", "/csms/CP1"),
    ],
)
def test_paths_outside_the_prefix_are_404(prefix: str, path: str) -> None:
    assert (
        refused(charge_point_id_from_path, path, HandshakeOptions(path_prefix=prefix)).status == 404
    )


@pytest.mark.parametrize("path", ["/ocpp", "/ocpp/", "/ocpp//", "/ocpp?CP1", "/ocpp/?x=1", ""])
def test_a_path_naming_no_charge_point_is_404(path: str) -> None:
    assert refused(charge_point_id_from_path, path, DEFAULT).status == 404


def test_empty_path_without_prefix_is_404() -> None:
    options = HandshakeOptions(path_prefix="")
    assert refused(charge_point_id_from_path, "/", options).status == 404


def test_id_length_limit_counts_decoded_characters() -> None:
    longest = "X" * MAX_CHARGE_POINT_ID_LENGTH
    assert charge_point_id_from_path(f"/ocpp/{longest}", DEFAULT) == longest
    assert refused(charge_point_id_from_path, f"/ocpp/{longest}X", DEFAULT).status == 400
    # 48 characters, each written as a 6-byte escape: still allowed.
    encoded = "%C3%A9" * MAX_CHARGE_POINT_ID_LENGTH
    assert charge_point_id_from_path(f"/ocpp/{encoded}", DEFAULT) == "é" * 48


def test_id_length_limit_is_an_option() -> None:
    options = HandshakeOptions(max_id_length=3)
    assert charge_point_id_from_path("/ocpp/abc", options) == "abc"
    assert refused(charge_point_id_from_path, "/ocpp/abcd", options).status == 400


@pytest.mark.parametrize(
    "escape",
    [
        "%00",
        "%0A",
        "%0D",
        "%1B",
        "%1F",
        "%7F",
        "%C2%85",
        "%C2%9B",
    ],
)
def test_control_characters_are_400(escape: str) -> None:
    assert refused(charge_point_id_from_path, f"/ocpp/CP{escape}1", DEFAULT).status == 400


@pytest.mark.parametrize("escape", ["%FF", "%C3", "%C3%28", "%ED%A0%80"])
def test_an_escape_that_is_not_utf8_is_400(escape: str) -> None:
    assert refused(charge_point_id_from_path, f"/ocpp/CP{escape}", DEFAULT).status == 400


@pytest.mark.parametrize("escape", ["%", "%G1", "%2"])
def test_a_malformed_escape_is_kept_literally(escape: str) -> None:
    # unquote leaves what is not a %XX escape as it is; the id is still printable.
    assert charge_point_id_from_path(f"/ocpp/CP{escape}", DEFAULT) == f"CP{escape}"


# -- subprotocol --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offered",
    [
        ["ocpp1.6"],
        ["ocpp2.0.1", "ocpp1.6"],
        ["ocpp1.6", "ocpp2.0.1"],
        [" ocpp1.6 "],  # from a "a, b" header split on commas
        ["ocpp1.5", " ocpp1.6"],
        ("ocpp1.6",),
    ],
)
@pytest.mark.parametrize("required", [True, False])
def test_ocpp16_is_selected_when_offered(offered: list[str], required: bool) -> None:
    options = HandshakeOptions(require_subprotocol=required)
    assert select_subprotocol(offered, options) == SUBPROTOCOL == "ocpp1.6"


@pytest.mark.parametrize(
    "offered", [[], [""], ["ocpp1.5"], ["ocpp2.0.1", "ocpp2.0"], ["ocpp1.6j"], ["ocpp1.6,x"]]
)
def test_not_offering_ocpp16_is_400_when_required(offered: list[str]) -> None:
    assert refused(select_subprotocol, offered, DEFAULT).status == 400


@pytest.mark.parametrize("offered", [[], ["ocpp1.5"], ["ocpp2.0.1"]])
def test_not_offering_ocpp16_selects_nothing_when_not_required(offered: list[str]) -> None:
    assert select_subprotocol(offered, HandshakeOptions(require_subprotocol=False)) is None


def test_subprotocols_may_come_from_a_generator() -> None:
    assert select_subprotocol(iter(["x", "ocpp1.6"]), DEFAULT) == "ocpp1.6"


# -- HTTP Basic ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (basic("CP1", "pw"), ("CP1", "pw")),
        ("basic " + basic("CP1", "pw")[6:], ("CP1", "pw")),  # the scheme is case-insensitive
        ("BASIC " + basic("CP1", "pw")[6:], ("CP1", "pw")),
        ("  " + basic("CP1", "pw") + "  ", ("CP1", "pw")),
        ("Basic   " + basic("CP1", "pw")[6:], ("CP1", "pw")),
        (basic("CP1", "a:b:c"), ("CP1", "a:b:c")),  # the password may hold colons
        (basic("CP1", ""), ("CP1", "")),
        (basic("", "pw"), ("", "pw")),
        (basic("Zähler-ß", "pässwort€"), ("Zähler-ß", "pässwort€")),  # UTF-8 (RFC 7617)
        (basic("CP1", "🔌"), ("CP1", "🔌")),
    ],
)
def test_basic_credentials_are_parsed(header: str, expected: tuple[str, str]) -> None:
    assert basic_credentials(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "Basic",
        "Basic ",
        "Bearer " + basic("CP1", "pw")[6:],  # wrong scheme
        "Digest username=CP1",
        "Basicx " + basic("CP1", "pw")[6:],
        "Basic !!!!",  # not base64
        "Basic Q1Ax=OnB3",  # padding in the middle
        "Basic Q1AxOnB",  # truncated
        "Basic " + base64.b64encode(b"CP1pw").decode(),  # no colon
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),  # not UTF-8
        "Basic " + base64.b64encode("CP1:pässwort".encode("latin-1")).decode(),
        "Basic " + basic("CP1", "pw")[6:] + " extra",
    ],
)
def test_unusable_authorization_headers_give_none(header: str | None) -> None:
    assert basic_credentials(header) is None


@pytest.mark.parametrize("value", ["é", "Q1AxOnB3é", "①②③④"])
def test_a_non_ascii_authorization_value_gives_none(value: str) -> None:
    # Headers arrive decoded as ISO-8859-1 (websockets) or latin-1 (ASGI): any byte can occur.
    assert basic_credentials(f"Basic {value}") is None


# -- decide: security profiles ------------------------------------------------------------------

CERT = ("CP1",)
OTHER_CERT = ("CP2",)
RIGHT = basic("CP1", PASSWORD)
WRONG_PASSWORD = basic("CP1", PASSWORD + "x")
WRONG_USERNAME = basic("CP2", PASSWORD)
WRONG_CASE_USERNAME = basic("cp1", PASSWORD)
BEARER = "Bearer " + RIGHT[6:]


def record(profile: int, password_hash: str | None = PASSWORD_HASH) -> ChargePointRecord:
    return ChargePointRecord(
        charge_point_id="CP1",
        registration_status=RegistrationStatus.ACCEPTED,
        security_profile=profile,
        password_hash=password_hash,
    )


def peer(
    authorization: str | None = None, *, tls: bool = False, certs: tuple[str, ...] = ()
) -> Peer:
    return Peer(
        path="/ocpp/CP1",
        subprotocols=("ocpp1.6",),
        authorization=authorization,
        tls=tls,
        client_certificate_names=certs,
    )


# (profile, tls, authorization, certificate names) → expected status, None = accepted
PROFILE_CASES = [
    # profile 0: no authentication, plain or TLS; credentials are ignored
    (0, False, None, (), None),
    (0, True, None, (), None),
    (0, False, WRONG_PASSWORD, (), None),
    (0, True, None, OTHER_CERT, None),
    # profile 1: Basic auth, plain (or TLS, which does not hurt)
    (1, False, RIGHT, (), None),
    (1, True, RIGHT, (), None),
    (1, False, WRONG_PASSWORD, (), 401),
    (1, False, WRONG_USERNAME, (), 401),
    (1, False, WRONG_CASE_USERNAME, (), 401),
    (1, False, None, (), 401),
    (1, False, BEARER, (), 401),
    (1, False, "Basic !!", (), 401),
    (1, True, None, CERT, 401),  # a certificate is not a password
    # profile 2: Basic auth over TLS
    (2, True, RIGHT, (), None),
    (2, False, RIGHT, (), 403),
    (2, False, WRONG_PASSWORD, (), 403),  # TLS is checked first
    (2, True, WRONG_PASSWORD, (), 401),
    (2, True, WRONG_USERNAME, (), 401),
    (2, True, None, (), 401),
    (2, True, None, CERT, 401),
    # profile 3: TLS with a client certificate naming the charge point
    (3, True, None, CERT, None),
    (3, True, None, ("Other", "CP1"), None),
    (3, True, WRONG_PASSWORD, CERT, None),  # no Basic auth in profile 3
    (3, False, None, CERT, 403),
    (3, True, None, (), 401),
    (3, True, None, OTHER_CERT, 401),
    (3, True, None, ("cp1",), 401),
    (3, True, RIGHT, (), 401),  # a password is not a certificate
]


@pytest.mark.parametrize(("profile", "tls", "authorization", "certs", "status"), PROFILE_CASES)
def test_security_profiles_of_a_known_charge_point(
    profile: int, tls: bool, authorization: str | None, certs: tuple[str, ...], status: int | None
) -> None:
    p = peer(authorization, tls=tls, certs=certs)
    if status is None:
        assert decide(p, record(profile), DEFAULT) == ("CP1", "ocpp1.6")
    else:
        assert refused(decide, p, record(profile), DEFAULT).status == status


@pytest.mark.parametrize(("profile", "tls"), [(1, False), (1, True), (2, True)])
@pytest.mark.parametrize("password_hash", [None, "", "not-a-hash", "pbkdf2_sha256$x$y$z"])
def test_a_password_profile_without_a_usable_hash_refuses_everyone(
    profile: int, tls: bool, password_hash: str | None
) -> None:
    p = peer(RIGHT, tls=tls)
    assert refused(decide, p, record(profile, password_hash), DEFAULT).status == 401


@pytest.mark.parametrize(("profile", "tls", "authorization", "certs", "status"), PROFILE_CASES)
def test_unknown_charge_points_get_the_default_profile(
    profile: int, tls: bool, authorization: str | None, certs: tuple[str, ...], status: int | None
) -> None:
    options = HandshakeOptions(allow_unknown_charge_points=True, default_security_profile=profile)
    p = peer(authorization, tls=tls, certs=certs)
    if profile in (1, 2) and status is None:
        status = 401  # an unknown charge point has no password to check against
    if status is None:
        assert decide(p, None, options) == ("CP1", "ocpp1.6")
    else:
        assert refused(decide, p, None, options).status == status


@pytest.mark.parametrize(("profile", "tls", "authorization", "certs", "_status"), PROFILE_CASES)
def test_unknown_charge_points_are_404_when_not_allowed(
    profile: int,
    tls: bool,
    authorization: str | None,
    certs: tuple[str, ...],
    _status: int | None,
) -> None:
    options = HandshakeOptions(allow_unknown_charge_points=False, default_security_profile=profile)
    p = peer(authorization, tls=tls, certs=certs)
    assert refused(decide, p, None, options).status == 404
    # ... while the same peer, known, meets its profile
    if _status is None:
        assert decide(p, record(profile), options) == ("CP1", "ocpp1.6")


@pytest.mark.parametrize(
    ("allow", "policy", "allowed"),
    [
        # Errata 3.68 / OCPP-J §3.2: by default an unknown charge point follows the policy.
        (None, None, False),  # the default policy is REJECT
        (None, UnknownChargePointPolicy.REJECT, False),
        (None, UnknownChargePointPolicy.PENDING, True),
        (None, UnknownChargePointPolicy.ACCEPT, True),
        # An explicit option decides alone.
        (True, UnknownChargePointPolicy.REJECT, True),
        (False, UnknownChargePointPolicy.ACCEPT, False),
    ],
)
def test_errata_3_68_unknown_charge_points_follow_the_policy_at_the_handshake(
    allow: bool | None, policy: UnknownChargePointPolicy | None, allowed: bool
) -> None:
    options = HandshakeOptions(allow_unknown_charge_points=allow)
    assert unknown_charge_points_allowed(options, policy) is allowed
    p = peer(None)
    if allowed:
        assert decide(p, None, options, unknown_policy=policy) == ("CP1", "ocpp1.6")
    else:
        assert refused(lambda: decide(p, None, options, unknown_policy=policy)).status == 404
    # A known charge point is never affected.
    assert decide(p, record(0), options, unknown_policy=policy) == ("CP1", "ocpp1.6")


def test_checks_come_in_order_path_then_subprotocol_then_profile() -> None:
    known = record(2)
    bad_everything = Peer(path="/elsewhere/CP1", subprotocols=(), authorization=None, tls=False)
    assert refused(decide, bad_everything, known, DEFAULT).status == 404
    no_subprotocol = Peer(path="/ocpp/CP1", subprotocols=(), authorization=None, tls=False)
    assert refused(decide, no_subprotocol, known, DEFAULT).status == 400
    assert refused(decide, no_subprotocol, None, DEFAULT).status == 400
    plain = Peer(path="/ocpp/CP1", subprotocols=("ocpp1.6",), tls=False)
    assert refused(decide, plain, known, DEFAULT).status == 403


def test_without_required_subprotocol_the_id_is_returned_with_none() -> None:
    options = HandshakeOptions(require_subprotocol=False)
    p = Peer(path="/ocpp/CP1?x", subprotocols=("ocpp2.0.1",))
    assert decide(p, record(0), options) == ("CP1", None)


def test_the_username_is_compared_with_the_decoded_id() -> None:
    hashed = hash_password("pw", iterations=1000)
    rec = ChargePointRecord(charge_point_id="A/B é", security_profile=1, password_hash=hashed)
    p = Peer(
        path="/ocpp/A%2FB%20%C3%A9", subprotocols=("ocpp1.6",), authorization=basic("A/B é", "pw")
    )
    options = HandshakeOptions(allow_unsafe_ids=True)  # the id holds a '/'
    assert decide(p, rec, options) == ("A/B é", "ocpp1.6")
    raw = Peer(
        path=p.path, subprotocols=p.subprotocols, authorization=basic("A%2FB%20%C3%A9", "pw")
    )
    assert refused(decide, raw, rec, options).status == 401


# -- properties ---------------------------------------------------------------------------------

hashes = st.sampled_from([None, PASSWORD_HASH, "", "garbage", "pbkdf2_sha256$1$AA==$AA=="])
records = st.none() | st.builds(
    ChargePointRecord,
    charge_point_id=st.just("CP1"),
    security_profile=st.integers(0, 3),
    password_hash=hashes,
)
options_strategy = st.builds(
    HandshakeOptions,
    path_prefix=st.sampled_from(["/ocpp", "/ocpp/", "", "/a/b"]),
    require_subprotocol=st.booleans(),
    allow_unknown_charge_points=st.none() | st.booleans(),
    default_security_profile=st.integers(0, 3),
    max_id_length=st.integers(1, 64),
)
usernames = st.sampled_from(["CP1", "", "x"])
subprotocol_names = st.sampled_from(["ocpp1.6", "ocpp2.0.1", ""])
certificate_names = st.sampled_from(["CP1", "CP2"])


def peers_from(
    text: st.SearchStrategy[str], path: st.SearchStrategy[str], password: st.SearchStrategy[str]
) -> st.SearchStrategy[Peer]:
    authorization = (
        st.none()
        | text
        | st.builds("Basic {}".format, text)
        | st.builds(basic, usernames, password)
        | st.just(RIGHT)
    )
    return st.builds(
        Peer,
        path=path,
        subprotocols=st.tuples() | st.lists(subprotocol_names | text, max_size=3).map(tuple),
        authorization=authorization,
        tls=st.booleans(),
        client_certificate_names=st.lists(certificate_names | text, max_size=2).map(tuple),
    )


escapes = st.integers(0, 255).map("%{:02X}".format)
segments = st.lists(st.text(max_size=6) | escapes | st.just("/"), max_size=8).map("".join)
path_starts = st.sampled_from(["/ocpp/", "/", "/a/b/", ""])
any_peers = peers_from(
    st.text(),
    st.text() | st.builds("{}{}".format, path_starts, segments),
    st.text(),
) | st.builds(
    Peer,
    path=st.just("/ocpp/CP1"),
    subprotocols=st.just(("ocpp1.6",)),
    authorization=st.builds(
        lambda data: "Basic " + base64.b64encode(data).decode(), st.binary(max_size=20)
    ),
)
ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E))
ascii_peers = peers_from(
    ascii_text,
    st.builds("{}{}".format, path_starts, ascii_text.filter(lambda s: "%" not in s)),
    st.sampled_from([PASSWORD, "", "x"]),
)


@given(peer=any_peers, rec=records, options=options_strategy)
@example(peer=Peer(path="/ocpp/%FF", subprotocols=("ocpp1.6",)), rec=None, options=DEFAULT)
@example(
    peer=Peer(path="/ocpp/CP1", subprotocols=("ocpp1.6",), authorization="Basic é"),
    rec=record(1),
    options=DEFAULT,
)
def test_decide_only_ever_raises_handshake_refused(
    peer: Peer, rec: ChargePointRecord | None, options: HandshakeOptions
) -> None:
    check_decision(peer, rec, options)


@given(peer=ascii_peers, rec=records, options=options_strategy)
def test_decide_accepts_only_what_the_profile_allows(
    peer: Peer, rec: ChargePointRecord | None, options: HandshakeOptions
) -> None:
    # The same property on ASCII input without percent-escapes, which the bugs above spare:
    # it keeps guarding the rules while those bugs are open.
    check_decision(peer, rec, options)


def outcome(
    peer: Peer, rec: ChargePointRecord | None, options: HandshakeOptions
) -> tuple[str, str | None] | HandshakeRefused:
    try:
        return decide(peer, rec, options)
    except HandshakeRefused as refusal:
        return refusal


def check_decision(peer: Peer, rec: ChargePointRecord | None, options: HandshakeOptions) -> None:
    result = outcome(peer, rec, options)
    if isinstance(result, HandshakeRefused):
        assert result.status in (400, 401, 403, 404)
        return
    # Accepted: every rule of the profile holds.
    charge_point_id, subprotocol = result
    assert charge_point_id == charge_point_id_from_path(peer.path, options)
    assert 0 < len(charge_point_id) <= options.max_id_length
    assert subprotocol == select_subprotocol(peer.subprotocols, options)
    if rec is None:
        assert unknown_charge_points_allowed(options)
        profile = options.default_security_profile
    else:
        profile = rec.security_profile
    if profile >= 2:
        assert peer.tls
    if profile in (1, 2):
        assert rec is not None
        assert rec.password_hash == PASSWORD_HASH
        assert basic_credentials(peer.authorization) == (charge_point_id, PASSWORD)
    if profile == 3:
        assert charge_point_id in peer.client_certificate_names
