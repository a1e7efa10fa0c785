"""Payload validation against our OCPP 1.6J schemas, and the policy that relaxes it.

Every inbound payload is checked against ``schemas/<Action>.json`` or
``schemas/<Action>Response.json`` (OCPP-J 1.6 §4.2.3 fixes the CallError code each failure
earns). :class:`PayloadValidator` runs specialised code generated once per schema;
:func:`reference_violations` runs the same check through ``jsonschema`` so the two can be
compared. A :class:`ValidationPolicy` lets a deployment tolerate known deviations of
particular charge points (overlong strings, unknown enum values, extra fields, sloppy
timestamps) while everything else stays strict.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import attrs
import jsonschema  # type: ignore[import-untyped]
import jsonschema.validators  # type: ignore[import-untyped]

from ocpp16csms._schema_compiler import (
    KEYWORD_RANK,
    CompiledSchema,
    check_supported,
    compile_schema,
    draft_of,
    is_decimal_multiple,
    is_rfc3339_date_time,
)
from ocpp16csms.errors import ErrorCode, OcppError, error_for_code

__all__ = [
    "PayloadValidator",
    "Relaxation",
    "RelaxedRule",
    "ValidationPolicy",
    "ValidationResult",
    "Violation",
    "is_rfc3339_date_time",
    "reference_violations",
    "schema_for",
    "schema_names",
    "validator_for",
    "violation_error",
]

_CODE_BY_KEYWORD: Mapping[str, ErrorCode] = {
    "required": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "enum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "maxLength": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "minimum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "multipleOf": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "format": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "pattern": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.FORMATION_VIOLATION,
}
_SCHEMA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- schemas -------------------------------------------------------------------------------


def _schema_dir() -> Any:
    return resources.files("ocpp16csms").joinpath("schemas")


def schema_names() -> tuple[str, ...]:
    """The names of the schemas we ship, sorted: file stems such as ``"HeartbeatResponse"``."""
    return tuple(
        sorted(
            entry.name.removesuffix(".json")
            for entry in _schema_dir().iterdir()
            if entry.name.endswith(".json")
        )
    )


@cache
def schema_for(name: str) -> Mapping[str, Any]:
    """Return the schema ``schemas/<name>.json`` (loaded once); ``KeyError`` if there is none."""
    if not _SCHEMA_NAME.fullmatch(name):
        raise KeyError(name)
    entry = _schema_dir().joinpath(f"{name}.json")
    if not entry.is_file():
        raise KeyError(name)
    loaded: dict[str, Any] = json.loads(entry.read_text(encoding="utf-8"))
    return loaded


# --- violations ----------------------------------------------------------------------------


@attrs.frozen
class Violation:
    """One way a payload breaks its schema, with the CallError code it earns (OCPP-J §4.2.3)."""

    code: ErrorCode
    #: The JSON-schema keyword that failed.
    keyword: str
    #: JSON path of the failing value: ``"$"``, ``"$.meterValue[0].sampledValue[2].unit"``.
    path: str
    #: Wire name of the field concerned; ``None`` at top level.
    field: str | None
    #: Dotted property names without indices (``meterValue.sampledValue.unit``).
    field_path: str
    #: Human description naming the path and the field, e.g. ``"$.idTag: … (maxLength)"``.
    message: str


def _format_path(segments: Iterable[str | int]) -> str:
    parts = ["$"]
    for segment in segments:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif _IDENTIFIER.fullmatch(segment):
            parts.append(f".{segment}")
        else:
            parts.append(f"[{json.dumps(segment)}]")
    return "".join(parts)


_BOUNDED_REPR = reprlib.Repr()
_BOUNDED_REPR.maxlevel = 2
_BOUNDED_REPR.maxdict = _BOUNDED_REPR.maxlist = 3


def _short(value: object, limit: int = 32) -> str:
    # Bounded work too: a peer can send megabytes, and only a glimpse goes in the message.
    if isinstance(value, str):
        text = repr(value[:limit])
    elif isinstance(value, (dict, list)):
        text = _BOUNDED_REPR.repr(value)
    else:
        try:
            text = repr(value)
        except ValueError:  # an int too long for repr()
            return "<a very long number>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


_JSON_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _describe(keyword: str, path: str, field: str | None, instance: Any, expected: Any) -> str:
    if keyword in ("required", "additionalProperties", "minItems", "maxItems"):
        shown = ""  # these messages do not show the value, which is a whole object or array
    else:
        shown = _short(instance)
    if keyword == "type" and path == "$":
        kind = _JSON_NAMES.get(type(instance), type(instance).__name__)
        return f"$: the payload must be a JSON object, not {kind} (type)"
    if keyword == "type":
        names = " or ".join(
            repr(t) for t in ([expected] if isinstance(expected, str) else expected)
        )
        text = f"{shown} is not of type {names}"
    elif keyword == "required":
        text = f"required field {field!r} is missing"
    elif keyword == "additionalProperties":
        text = f"field {field!r} is not allowed here"
    elif keyword == "enum":
        text = f"{shown} is not one of {_short(expected, 120)}"
    elif keyword == "maxLength":
        text = f"{shown} is longer than {expected} characters"
    elif keyword == "pattern":
        text = f"{shown} does not match {expected!r}"
    elif keyword == "minimum":
        text = f"{shown} is less than the minimum of {expected!r}"
    elif keyword == "multipleOf":
        text = f"{shown} is not a multiple of {expected!r}"
    elif keyword == "format":
        text = f"{shown} is not an RFC 3339 {expected}"
    elif keyword == "minItems":
        text = f"has {len(instance)} items, fewer than {expected}"
    elif keyword == "maxItems":
        text = f"has {len(instance)} items, more than {expected}"
    else:
        text = f"{shown} fails {keyword}"
    return f"{path}: {text} ({keyword})"


def _violation(
    keyword: str,
    segments: tuple[str | int, ...],
    field: str | None,
    instance: object,
    expected: object,
) -> Violation:
    """Build the :class:`Violation` for one failed keyword; shared by both validators."""
    names = [s for s in segments if isinstance(s, str)]
    if keyword in ("required", "additionalProperties"):
        field = str(field)  # a dict built in Python may have non-string keys
        names.append(field)
    else:
        field = names[-1] if names else None
    path = _format_path(segments)
    if keyword == "type" and not segments:
        # Not an object at all: the frame is malformed rather than a field mistyped.
        code = ErrorCode.FORMATION_VIOLATION
    else:
        code = _CODE_BY_KEYWORD[keyword]
    return Violation(
        code=code,
        keyword=keyword,
        path=path,
        field=field,
        field_path=".".join(names),
        message=_describe(keyword, path, field, instance, expected),
    )


def violation_error(v: Violation) -> OcppError:
    """The :class:`~ocpp16csms.errors.OcppError` (hence CallError) that ``v`` earns."""
    return error_for_code(v.code)(
        v.message, {"path": v.path, "field": v.field, "keyword": v.keyword}
    )


# --- the compiled validator ----------------------------------------------------------------


class PayloadValidator:
    """Validator for one schema, compiled to specialised Python code when built.

    Semantics are jsonschema's for our keyword subset, except that ``multipleOf`` is exact
    in decimal and ``format: date-time`` is RFC 3339.
    """

    __slots__ = ("_compiled", "_encoded", "_label", "draft", "schema")

    def __init__(self, schema: Mapping[str, Any], *, label: str | None = None) -> None:
        self.schema = schema
        self.draft = draft_of(schema)
        self._label = label or str(schema.get("title", "schema"))
        self._compiled: CompiledSchema[Violation] = compile_schema(schema, _violation, self._label)
        self._encoded: Callable[[object], bool] | None = None

    def is_valid(self, payload: object) -> bool:
        """Whether ``payload`` has no violation (the fast path)."""
        return self._compiled.valid(payload)

    @property
    def valid_function(self) -> Callable[[object], bool]:
        """:meth:`is_valid` itself, the generated function: one call less per payload."""
        return self._compiled.valid

    @property
    def encoded_valid_function(self) -> Callable[[object], bool]:
        """:attr:`valid_function` for payloads the message converter wrote: a string in a
        date-time field is taken as one, since the converter writes date-times only with its
        RFC 3339 formatter (from aware datetimes the message classes insist on); checking
        its own output again would be the second check. Everything else is checked."""
        if self._encoded is None:
            self._encoded = compile_schema(
                self.schema, _violation, self._label, trust_date_times=True
            ).valid
        return self._encoded

    def violations(self, payload: object) -> list[Violation]:
        """All violations, in canonical order (per object: unknown, missing, then properties)."""
        if self._compiled.valid(payload):
            return []
        return list(self._compiled.iter_violations(payload))

    def iter_violations(self, payload: object) -> Iterator[Violation]:
        """The violations one at a time, in canonical order: stop early at no extra cost."""
        if self._compiled.valid(payload):
            return iter(())
        return iter(self._compiled.iter_violations(payload))

    def first_violation(self, payload: object) -> Violation | None:
        """The first violation in canonical order, or ``None``."""
        if self._compiled.valid(payload):
            return None
        return next(self._compiled.iter_violations(payload), None)

    @property
    def source(self) -> str:
        """The generated Python source (for debugging)."""
        return self._compiled.source


@cache
def validator_for(name: str) -> PayloadValidator:
    """The compiled validator of schema ``name``, built once; ``KeyError`` if unknown."""
    return PayloadValidator(schema_for(name), label=name)


# --- the reference validator (jsonschema) --------------------------------------------------


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "number") and not is_decimal_multiple(instance, divisor):
        yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {divisor!r}")


def _date_time_format(instance: object) -> bool:
    return not isinstance(instance, str) or is_rfc3339_date_time(instance)


def _reference_validator(schema: Mapping[str, Any]) -> Any:
    check_supported(schema)
    base = {4: jsonschema.Draft4Validator, 6: jsonschema.Draft6Validator}[draft_of(schema)]
    extended = jsonschema.validators.extend(base, validators={"multipleOf": _multiple_of})
    formats = jsonschema.FormatChecker(formats=())
    formats.checks("date-time")(_date_time_format)
    return extended(schema, format_checker=formats)


@cache
def _cached_reference(name: str) -> Any:
    return _reference_validator(schema_for(name))


def _canonical_key(
    schema: Mapping[str, Any], segments: tuple[str | int, ...], keyword: str, index: int
) -> tuple[tuple[int, int], ...]:
    """Where a violation falls in the compiled validator's order (see ``KEYWORD_RANK``)."""
    key: list[tuple[int, int]] = []
    for segment in segments:
        if isinstance(segment, int):
            key.append((KEYWORD_RANK["items"], segment))
            schema = schema["items"]
        else:
            key.append((KEYWORD_RANK["properties"], list(schema["properties"]).index(segment)))
            schema = schema["properties"][segment]
    key.append((KEYWORD_RANK[keyword], index))
    return tuple(key)


def reference_violations(name: str | Mapping[str, Any], payload: object) -> list[Violation]:
    """The violations ``jsonschema`` finds, as :class:`Violation` s in canonical order.

    ``name`` is a schema name or a schema. ``multipleOf`` is made decimal-exact and
    ``date-time`` checked as RFC 3339, so the verdicts should equal :class:`PayloadValidator`'s.
    """
    if isinstance(name, str):
        schema, validator = schema_for(name), _cached_reference(name)
    else:
        schema, validator = name, _reference_validator(name)
    keyed: list[tuple[tuple[tuple[int, int], ...], Violation]] = []
    for error in validator.iter_errors(payload):
        segments = tuple(error.absolute_path)
        keyword = error.validator
        instance = error.instance
        if keyword == "additionalProperties":
            # jsonschema reports all unknown fields of an object in one error.
            known = error.schema.get("properties", {})
            for position, field in enumerate(instance):
                if field not in known:
                    v = _violation(keyword, segments, field, instance, error.validator_value)
                    keyed.append((_canonical_key(schema, segments, keyword, position), v))
        elif keyword == "required":
            required = error.validator_value
            missing = [r for r in required if r not in instance]
            field = next(
                (r for r in missing if error.message == f"{r!r} is a required property"), None
            )
            if field is None:  # an unfamiliar message format: fall back to the first missing
                field = missing[0]
            v = _violation(keyword, segments, field, instance, required)
            keyed.append((_canonical_key(schema, segments, keyword, required.index(field)), v))
        else:
            v = _violation(keyword, segments, None, instance, error.validator_value)
            keyed.append((_canonical_key(schema, segments, keyword, 0), v))
    keyed.sort(key=lambda pair: pair[0])
    return [v for _, v in keyed]


# --- policy --------------------------------------------------------------------------------


class RelaxedRule(StrEnum):
    """A schema rule that a :class:`Relaxation` may waive; the value is its keyword."""

    MAX_LENGTH = "maxLength"
    ENUM = "enum"
    EXTRA_FIELDS = "additionalProperties"
    DATE_TIME_FORMAT = "format"


def _frozen_ids(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


@attrs.frozen(kw_only=True)
class Relaxation:
    """Waive ``rule`` where every given criterion matches (``None`` matches anything).

    ``field`` is a :attr:`Violation.field_path`; ``models`` are chargePointModel values
    reported at boot.
    """

    rule: RelaxedRule = attrs.field(converter=RelaxedRule)
    field: str | None = None
    action: str | None = None
    charge_point_ids: frozenset[str] | None = attrs.field(default=None, converter=_frozen_ids)
    models: frozenset[str] | None = attrs.field(default=None, converter=_frozen_ids)

    def matches(
        self, v: Violation, *, action: str, charge_point_id: str | None, model: str | None
    ) -> bool:
        """Whether this relaxation waives ``v`` in the given context."""
        return (
            v.keyword == self.rule
            and (self.field is None or self.field == v.field_path)
            and (self.action is None or self.action == action)
            and (
                self.charge_point_ids is None
                or (charge_point_id is not None and charge_point_id in self.charge_point_ids)
            )
            and (self.models is None or (model is not None and model in self.models))
        )


def _as_tuple(relaxations: Iterable[Relaxation]) -> tuple[Relaxation, ...]:
    return tuple(relaxations)


@attrs.frozen
class ValidationResult:
    """Outcome of :meth:`ValidationPolicy.check`: violations kept, and those waived."""

    errors: tuple[Violation, ...] = ()
    relaxed: tuple[Violation, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether nothing is left that must be rejected."""
        return not self.errors


_VALID = ValidationResult()


@attrs.frozen(kw_only=True)
class ValidationPolicy:
    """Which schema rules are waived for which charge points; the caller logs what was waived.

    Only the rules in :class:`RelaxedRule` can be waived: a wrong type, a missing field, an
    array of the wrong size or a number out of range is always an error.
    """

    relaxations: tuple[Relaxation, ...] = attrs.field(default=(), converter=_as_tuple)
    #: Whether our own outbound payloads are validated too.
    validate_outbound: bool = True

    @classmethod
    def strict(cls) -> ValidationPolicy:
        """A policy that waives nothing."""
        return cls()

    def check(
        self,
        schema_name: str,
        payload: object,
        *,
        action: str,
        charge_point_id: str | None = None,
        model: str | None = None,
        exhaustive: bool = True,
    ) -> ValidationResult:
        """Validate ``payload`` against ``schema_name`` and split off what may be waived.

        ``exhaustive=False`` stops at the first violation that is not waived, so ``errors``
        holds at most one: the wire path answers only the first, and a peer's frame full of
        faults then costs no more than one fault (the default lists them all).

        ``KeyError`` if there is no such schema: an unknown action is the caller's to answer
        (``NotImplemented``) before validating.
        """
        validator = validator_for(schema_name)
        if validator.is_valid(payload):
            return _VALID
        if not self.relaxations:
            if exhaustive:
                return ValidationResult(errors=tuple(validator.violations(payload)))
            first = validator.first_violation(payload)
            return ValidationResult(errors=() if first is None else (first,))
        errors: list[Violation] = []
        relaxed: list[Violation] = []
        for v in validator.iter_violations(payload):
            waived = any(
                r.matches(v, action=action, charge_point_id=charge_point_id, model=model)
                for r in self.relaxations
            )
            (relaxed if waived else errors).append(v)
            if errors and not exhaustive:
                break
        return ValidationResult(errors=tuple(errors), relaxed=tuple(relaxed))
