"""The NATS subjects a cluster of central-system processes uses (docs/scaling.md).

A charge point id becomes one subject token: ASCII letters, digits, ``-`` and ``_`` stay as they
are, every other character is written ``~XX`` per UTF-8 byte (upper-case hex), so ids with dots,
spaces or wildcards (``.``, ``*``, ``>``) never change a subject's shape and the mapping can be
undone by a consumer in any language.
"""

from __future__ import annotations

import re
import string

import attrs

__all__ = ["Subjects", "charge_point_from_token", "subject_token"]

_SAFE = frozenset(string.ascii_letters + string.digits + "-_")
_ESCAPE = re.compile(r"~([0-9A-F]{2})")
_TOKEN = re.compile(r"(?:[A-Za-z0-9_-]|~[0-9A-F]{2})+")
_PREFIX_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def subject_token(charge_point_id: str) -> str:
    """The subject token of a charge point id (or node name); ``ValueError`` for ``""``."""
    if not isinstance(charge_point_id, str) or not charge_point_id:
        raise ValueError(f"a charge point id must be a non-empty string, got {charge_point_id!r}")
    out: list[str] = []
    for char in charge_point_id:
        if char in _SAFE:
            out.append(char)
        else:
            out.extend(f"~{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def charge_point_from_token(token: str) -> str:
    """The charge point id a :func:`subject_token` stands for; ``ValueError`` if malformed."""
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"{token!r} is not a charge point subject token")
    raw = bytearray()
    position = 0
    for match in _ESCAPE.finditer(token):
        raw.extend(token[position : match.start()].encode("ascii"))
        raw.append(int(match.group(1), 16))
        position = match.end()
    raw.extend(token[position:].encode("ascii"))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{token!r} does not encode UTF-8 text") from None


def _check_prefix(_: object, __: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not all(_PREFIX_TOKEN.fullmatch(t) for t in value.split(".")):
        raise ValueError(
            f"a subject prefix is dot-separated tokens of letters, digits, - and _, got {value!r}"
        )


@attrs.frozen
class Subjects:
    """Every subject of one cluster, under ``prefix`` (default ``ocpp16``).

    Processes of one cluster must share the prefix; two clusters on one NATS server are kept
    apart by giving them different prefixes.
    """

    prefix: str = attrs.field(default="ocpp16", validator=_check_prefix)

    def charge_point(self, charge_point_id: str) -> str:
        """What the process holding the charge point subscribes to (``<prefix>.cp.<id>.*``)."""
        return f"{self.prefix}.cp.{subject_token(charge_point_id)}.*"

    def call(self, charge_point_id: str) -> str:
        """Request/reply: a call for the charge point, answered by the process holding it."""
        return f"{self.prefix}.cp.{subject_token(charge_point_id)}.call"

    def holder(self, charge_point_id: str) -> str:
        """Request/reply: which process holds the charge point (no responders: none)."""
        return f"{self.prefix}.cp.{subject_token(charge_point_id)}.holder"

    def takeover(self, charge_point_id: str) -> str:
        """Published by a process that holds the charge point: an older holder lets it go."""
        return f"{self.prefix}.cp.{subject_token(charge_point_id)}.takeover"

    def event(self, charge_point_id: str, name: str) -> str:
        """Where an event about the charge point is published (``name``: an OCPP action,
        ``connected``, ``disconnected`` or ``violation``)."""
        return f"{self.prefix}.events.{subject_token(charge_point_id)}.{name}"

    @property
    def events(self) -> str:
        """The wildcard that follows every event of the cluster."""
        return f"{self.prefix}.events.>"

    @property
    def heartbeat(self) -> str:
        """Each process publishes its heartbeat here."""
        return f"{self.prefix}.nodes.heartbeat"

    @property
    def query(self) -> str:
        """Scatter/gather: every process answers with the charge points it holds."""
        return f"{self.prefix}.nodes.query"

    def node(self, name: str) -> str:
        """Request/reply: a process by name (used to refuse a second process of one name)."""
        return f"{self.prefix}.nodes.{subject_token(name)}.info"

    def parse_charge_point(self, subject: str) -> tuple[str, str] | None:
        """``(charge point id, verb)`` of a ``<prefix>.cp.<id>.<verb>`` subject, else None."""
        head = f"{self.prefix}.cp."
        if not subject.startswith(head):
            return None
        token, _, verb = subject[len(head) :].rpartition(".")
        try:
            return charge_point_from_token(token), verb
        except ValueError:
            return None
