"""Charge point passwords for HTTP Basic authentication (security whitepaper, profiles 1 and 2).

Only a salted slow hash is ever stored (``ChargePointRecord.password_hash``); verification
compares in constant time. Standard library only: PBKDF2-HMAC-SHA256.

A password may not hold control characters (C0, DEL, C1): PBKDF2 pads its HMAC key with
NULs, so without this rule ``"pw\x00"`` would authenticate as ``"pw"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

__all__ = ["DEFAULT_ITERATIONS", "hash_password", "password_problem", "verify_password"]

DEFAULT_ITERATIONS = 120_000
"""PBKDF2 iterations: slow enough to make guessing costly, fast enough for a connect storm."""

_SCHEME = "pbkdf2_sha256"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be an HTTP Basic password (empty, control characters), or None."""
    if not password:
        return "an empty password cannot be used"
    if _CONTROL.search(password):
        return "a password may not hold control characters"
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """A storable hash: ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` (base64 parts)."""
    problem = password_problem(password)
    if problem is not None:
        raise ValueError(problem)
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored_hash: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; False for any malformed hash and for a
    password holding control characters."""
    if _CONTROL.search(password):
        return False
    try:
        scheme, iterations, salt, digest = stored_hash.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.pbkdf2_hmac(
            "sha256",
            password.encode("utf-8", "surrogatepass"),
            base64.b64decode(salt, validate=True),
            int(iterations),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
