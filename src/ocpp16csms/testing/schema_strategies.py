"""Hypothesis strategies for raw OCPP 1.6J payloads, driven by our JSON schemas.

Use :func:`payloads` to feed a backend valid wire payloads for any action, and
:func:`faulty_payloads` to check that it answers each kind of schema violation with the
CallError code OCPP-J 1.6 §4.2.3 prescribes::

    @given(faulty_payloads("StartTransaction"))
    def test_rejects(case):
        payload, code, keyword = case
        ...

Both work from the schema files alone (``ocpp16csms.validation.schema_for``), so they follow
any schema we ship. They do not depend on hypothesis-jsonschema.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ocpp16csms._schema_compiler import draft_of
from ocpp16csms.errors import ErrorCode
from ocpp16csms.validation import schema_for

__all__ = ["faulty_payloads", "payloads"]

_INT_BOUND = 2**31
_MAX_ITEMS = 4
_UNBOUNDED_TEXT = 64

# Mostly ASCII, some of everything printable elsewhere (no controls, no lone surrogates).
_CHARACTERS = st.one_of(
    st.sampled_from(string.ascii_letters + string.digits + string.punctuation + " "),
    st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs")),
)


def _text(max_size: int, min_size: int = 0) -> SearchStrategy[str]:
    return st.text(_CHARACTERS, min_size=min_size, max_size=max_size)


# --- valid values --------------------------------------------------------------------------


def _two(n: int) -> str:
    return f"{n:02d}"


@st.composite
def _date_times(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(2099, 12, 31)))
    clock = f"{_two(draw(st.integers(0, 23)))}:{_two(draw(st.integers(0, 59)))}"
    clock += f":{_two(draw(st.integers(0, 59)))}"
    digits = draw(st.integers(0, 6))
    if digits:
        clock += "." + "".join(
            draw(st.lists(st.sampled_from(string.digits), min_size=digits, max_size=digits))
        )
    if draw(st.booleans()):
        offset = "Z"
    else:
        sign = draw(st.sampled_from("+-"))
        offset = f"{sign}{_two(draw(st.integers(0, 23)))}:{_two(draw(st.integers(0, 59)))}"
    return f"{day.isoformat()}T{clock}{offset}"


def _multiples(step: float, minimum: float | None) -> SearchStrategy[float]:
    low = -(10**7) + 1
    if minimum is not None:
        low = max(
            low,
            int((Decimal(repr(minimum)) / Decimal(repr(step))).to_integral_value("ROUND_CEILING")),
        )
    ks = st.integers(low, max(low, 10**7 - 1))
    if step == 0.1:
        return ks.map(lambda k: k / 10)
    decimal_step = Decimal(repr(step))
    return ks.map(lambda k: float(k * decimal_step))


def _values(schema: Mapping[str, Any]) -> SearchStrategy[Any]:
    """A strategy for values valid against ``schema`` (our keyword subset)."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_values({**schema, "type": k}) for k in kind])
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        order = list(properties)
        fixed = {k: _values(s) for k, s in properties.items() if k in required}
        optional = {k: _values(s) for k, s in properties.items() if k not in required}
        # Fields in schema order, as a charge point would usually send them.
        return st.fixed_dictionaries(fixed, optional=optional).map(
            lambda d: {k: d[k] for k in order if k in d}
        )
    if kind == "array":
        low = schema.get("minItems", 0)
        high = max(low, min(schema.get("maxItems", _MAX_ITEMS), _MAX_ITEMS))
        return st.lists(_values(schema.get("items", {})), min_size=low, max_size=high)
    if kind == "string":
        if schema.get("format") == "date-time":
            return _date_times()
        return _text(schema.get("maxLength", _UNBOUNDED_TEXT))
    if kind == "integer":
        low = max(math.ceil(schema.get("minimum", -_INT_BOUND)), -_INT_BOUND)
        return st.integers(low, _INT_BOUND - 1)
    if kind == "number":
        if "multipleOf" in schema:
            return _multiples(schema["multipleOf"], schema.get("minimum"))
        return st.floats(min_value=schema.get("minimum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise ValueError(f"no strategy for schema {dict(schema)!r}")


@cache
def payloads(name: str) -> SearchStrategy[dict[str, Any]]:
    """Valid payloads for schema ``name`` (e.g. ``"MeterValues"``, ``"BootNotificationResponse"``).

    Optional fields are sometimes present, sometimes absent; strings stay within maxLength;
    integers stay within ±2**31; decimals with ``multipleOf 0.1`` are ``k / 10``;
    date-times are RFC 3339 with ``Z`` or a numeric offset; arrays have at most 4 items.
    """
    schema = schema_for(name)
    return _values(schema)


# --- faults --------------------------------------------------------------------------------


class _Fault(NamedTuple):
    """One fault that can be injected: ``apply(draw)`` changes the payload in place."""

    code: ErrorCode
    keyword: str
    apply: Callable[[st.DrawFn], None]


_MALFORMED_DATE_TIMES = (
    "2024-01-01T00:00:00",  # no offset
    "2023-02-29T12:00:00Z",  # not a leap year
    "2024-04-31T12:00:00Z",
    "2024-13-01T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01T12:60:00Z",
    "2024-01-01T12:00:61Z",
    "2024-01-01T12:00:00+24:00",
    "2024-01-01T12:00:00+0100",
    "2024-01-01 12:00:00Z",
    "2024-1-1T12:00:00Z",
    "2024-01-01T12:00:00.Z",
    "2024-01-01",
    "12:00:00Z",
    "",
    "yesterday",
)

# One representative strategy per JSON type, for "wrong type" faults.
_BY_JSON_TYPE: Mapping[str, SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "integer": st.integers(-1000, 1000),
    "fraction": st.integers(-1000, 1000).map(lambda k: k + 0.5),
    # 5.0: an integer in draft-06, but not in draft-04.
    "integral float": st.integers(-1000, 1000).map(float),
    "string": _text(5),
    "array": st.lists(st.integers(0, 9), max_size=2),
    "object": st.dictionaries(st.sampled_from("abc"), st.integers(0, 9), max_size=2),
}


def _accepts(types: list[str], json_type: str, draft: int) -> bool:
    if json_type == "integer":
        return "integer" in types or "number" in types
    if json_type == "fraction":
        return "number" in types
    if json_type == "integral float":
        return "number" in types or ("integer" in types and draft >= 6)
    return json_type in types


def _set(container: Any, key: Any, value: SearchStrategy[Any]) -> Callable[[st.DrawFn], None]:
    def apply(draw: st.DrawFn) -> None:
        container[key] = draw(value)

    return apply


def _value_faults(
    container: Any, key: Any, schema: Mapping[str, Any], draft: int
) -> Iterator[_Fault]:
    """Faults that replace the value at ``container[key]``."""
    value = container[key]
    types = schema.get("type")
    minimum = schema.get("minimum")
    limit = schema.get("maxLength")
    prop = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        wrong = [t for t in _BY_JSON_TYPE if not _accepts(names, t, draft)]

        def wrong_type(draw: st.DrawFn) -> None:
            category = draw(st.sampled_from(wrong))
            if category in ("fraction", "integral float") and minimum is not None:
                # Above the minimum, so that the type is the only thing wrong.
                above = math.ceil(minimum) + draw(st.integers(0, 1000))
                container[key] = above + (0.5 if category == "fraction" else 0.0)
            else:
                container[key] = draw(_BY_JSON_TYPE[category])

        yield _Fault(ErrorCode.TYPE_CONSTRAINT_VIOLATION, "type", wrong_type)
    if "enum" in schema:
        allowed = set(schema["enum"])
        size = limit if limit is not None else 20

        def out_of_enum(draw: st.DrawFn) -> None:
            candidate = draw(st.sampled_from(schema["enum"]).map(str.swapcase) | _text(size, 1))
            while candidate in allowed:  # e.g. a case-insensitive value like "A"
                candidate = (candidate + "?")[-size:]
            container[key] = candidate

        yield _Fault(prop, "enum", out_of_enum)
    elif limit is not None and "format" not in schema and "pattern" not in schema:

        def too_long(draw: st.DrawFn) -> None:
            # Padded rather than drawn whole: some limits run to thousands of characters.
            head = draw(_text(min(limit + 1, 16), min_size=1))
            container[key] = head + head[-1] * (limit + 1 - len(head))

        yield _Fault(prop, "maxLength", too_long)
    if schema.get("format") == "date-time" and "enum" not in schema:
        bad = [s for s in _MALFORMED_DATE_TIMES if limit is None or len(s) <= limit]
        yield _Fault(prop, "format", _set(container, key, st.sampled_from(bad)))
    if minimum is not None and types in ("integer", "number"):
        below = st.integers(1, 1000).map(
            lambda delta: math.ceil(minimum) - delta if types == "integer" else minimum - delta
        )
        yield _Fault(prop, "minimum", _set(container, key, below))
    step = schema.get("multipleOf")
    if step is not None and types == "number":
        decimal_step = Decimal(repr(step))
        offset = Decimal(repr(minimum)) if minimum is not None and minimum > 0 else Decimal(0)
        halfway = st.integers(0, 10**6).map(
            lambda k: float(offset + decimal_step * (k + Decimal("0.5")))
        )
        yield _Fault(prop, "multipleOf", _set(container, key, halfway))
    if isinstance(value, list):
        occurence = ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
        if schema.get("minItems", 0) >= 1:
            yield _Fault(occurence, "minItems", _set(container, key, st.just([])))
        high = schema.get("maxItems")
        if high is not None:
            items = _values(schema.get("items", {}))
            too_many = st.lists(items, min_size=high + 1, max_size=high + 1)
            yield _Fault(occurence, "maxItems", _set(container, key, too_many))


def _drop(obj: dict[str, Any], name: str) -> Callable[[st.DrawFn], None]:
    def apply(draw: st.DrawFn) -> None:
        del obj[name]

    return apply


def _object_faults(obj: dict[str, Any], schema: Mapping[str, Any]) -> Iterator[_Fault]:
    """Faults on the object ``obj`` itself: a missing field, an unknown one."""
    for name in schema.get("required", ()):
        if name in obj:
            yield _Fault(ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION, "required", _drop(obj, name))
    if schema.get("additionalProperties") is False:
        known = set(schema.get("properties", {}))

        def extra(draw: st.DrawFn) -> None:
            field = draw(_text(12, min_size=1))
            while field in known or field in obj:
                field += "_"
            obj[field] = draw(st.one_of(st.none(), st.booleans(), st.integers(), _text(8)))

        yield _Fault(ErrorCode.FORMATION_VIOLATION, "additionalProperties", extra)


def _faults(value: Any, schema: Mapping[str, Any], draft: int) -> Iterator[_Fault]:
    """Every fault that can be injected into ``value`` or anywhere below it."""
    if isinstance(value, dict) and schema.get("type") == "object":
        yield from _object_faults(value, schema)
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                yield from _value_faults(value, name, sub, draft)
                yield from _faults(value[name], sub, draft)
    elif isinstance(value, list) and schema.get("type") == "array":
        for index, item in enumerate(value):
            yield from _value_faults(value, index, schema.get("items", {}), draft)
            yield from _faults(item, schema.get("items", {}), draft)


@st.composite
def _faulty(
    draw: st.DrawFn, name: str, keywords: frozenset[str] | None
) -> tuple[dict[str, Any], ErrorCode, str]:
    schema = schema_for(name)
    payload = copy.deepcopy(draw(payloads(name)))
    faults = [
        fault
        for fault in _faults(payload, schema, draft_of(schema))
        if keywords is None or fault.keyword in keywords
    ]
    if not faults:
        reject()  # e.g. no optional field present that could carry the wanted fault
    fault = draw(st.sampled_from(faults))
    fault.apply(draw)
    return payload, fault.code, fault.keyword


def faulty_payloads(
    name: str, *, keywords: Iterable[str] | None = None
) -> SearchStrategy[tuple[dict[str, Any], ErrorCode, str]]:
    """A valid payload for ``name`` with exactly one fault injected, at any depth.

    Yields ``(payload, code, keyword)``: the CallError code the fault must earn and the
    JSON-schema keyword it breaks. Faults: a required field removed, a value of the wrong
    JSON type, a string outside its enum or one character over maxLength, a number below
    its minimum or off its ``multipleOf``, a malformed date-time, an unknown field, an
    empty array where at least one item is required, one item too many under maxItems.
    A wrong type on an enum field also breaks ``enum`` at the same place; ``type`` comes
    first. ``keywords`` keeps only the faults that break one of the given keywords.
    """
    return _faulty_cached(name, None if keywords is None else frozenset(keywords))


@cache
def _faulty_cached(
    name: str, keywords: frozenset[str] | None
) -> SearchStrategy[tuple[dict[str, Any], ErrorCode, str]]:
    schema_for(name)  # an unknown name fails here, not at the first draw
    return _faulty(name, keywords)
