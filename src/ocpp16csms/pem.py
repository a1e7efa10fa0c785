"""Is this text PEM of the expected kind? One check for every feature, without
``cryptography`` (RFC 7468, strict): certificates, chains and CSRs."""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["CERTIFICATE", "CERTIFICATE_REQUEST", "pem_problem"]

CERTIFICATE = frozenset({"CERTIFICATE"})
"""The label of a certificate (one, or a chain of them)."""
CERTIFICATE_REQUEST = frozenset({"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"})
"""The labels of a certificate signing request (the second is the older spelling)."""

_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END ([A-Z0-9 ]+)-----", re.S)


def pem_problem(text: str, labels: frozenset[str], *, many: bool = False) -> str | None:
    """Why ``text`` is not one PEM block (``many``: one or more) labelled by ``labels``, or
    None. Each body must be base64 of DER (an ASN.1 SEQUENCE); only whitespace may stand
    around and between the blocks."""
    position, blocks = 0, 0
    for match in _BLOCK.finditer(text):
        if text[position : match.start()].strip():
            return "has text outside its PEM blocks"
        begin, body, end = match.groups()
        if begin != end:
            return f"has a block that begins as {begin} and ends as {end}"
        if begin not in labels:
            return f"has a {begin} block"
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            return "has a block whose body is not base64"
        if not der.startswith(b"\x30"):
            return "has a block that holds no DER structure"
        position, blocks = match.end(), blocks + 1
    if text[position:].strip():
        return "has text outside its PEM blocks"
    if blocks == 0:
        return "is not PEM (no -----BEGIN …----- / -----END …----- block)"
    if blocks > 1 and not many:
        return f"has {blocks} PEM blocks, not one"
    return None
