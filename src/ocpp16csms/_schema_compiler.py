"""Compile one of our JSON schemas into specialised Python source (private to :mod:`validation`).

Our schemas use a fixed keyword subset (``docs/schema-conventions.md``), so a schema
can be turned into two plain functions: ``valid(payload) -> bool``, the fast path, and a
generator that yields every violation in our canonical order. Both are generated from the same
walk of the schema and follow jsonschema's semantics keyword by keyword.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from numbers import Number
from typing import Any, Generic, TypeVar

__all__ = [
    "ANNOTATION_KEYWORDS",
    "KEYWORD_RANK",
    "CompiledSchema",
    "check_supported",
    "compile_schema",
    "draft_of",
    "is_decimal_multiple",
    "is_rfc3339_date_time",
    "json_equal",
]

V = TypeVar("V")

#: ``fail(keyword, segments, field, instance, schema_value)`` builds one violation.
FailFn = Callable[[str, tuple[str | int, ...], str | None, object, object], V]

# Canonical order of the violations found at one value: its own type first, then the checks
# on the value, then what lies inside it. Objects: unknown fields, missing fields, properties.
KEYWORD_RANK: Mapping[str, int] = {
    keyword: rank
    for rank, keyword in enumerate(
        (
            "type",
            "enum",
            "maxLength",
            "pattern",
            "minimum",
            "multipleOf",
            "format",
            "minItems",
            "maxItems",
            "items",
            "additionalProperties",
            "required",
            "properties",
        )
    )
}

#: Keywords that never affect validation.
ANNOTATION_KEYWORDS = frozenset({"$schema", "id", "$id", "title", "description"})

# The JSON type a keyword needs before it applies (jsonschema skips it otherwise).
_GUARD: Mapping[str, str | None] = {
    "enum": None,
    "maxLength": "string",
    "pattern": "string",
    "format": "string",
    "minimum": "number",
    "multipleOf": "number",
    "minItems": "array",
    "maxItems": "array",
    "items": "array",
    "additionalProperties": "object",
    "required": "object",
    "properties": "object",
}
_JSON_TYPES = frozenset({"string", "integer", "number", "object", "array", "boolean", "null"})

_DRAFTS = {
    "http://json-schema.org/draft-04/schema": 4,
    "http://json-schema.org/draft-06/schema": 6,
}


def draft_of(schema: Mapping[str, Any]) -> int:
    """Return 4 or 6 from the schema's ``$schema``; anything else is refused."""
    uri = str(schema.get("$schema", "")).rstrip("#")
    try:
        return _DRAFTS[uri]
    except KeyError:
        raise ValueError(f"unsupported $schema {schema.get('$schema')!r}") from None


def check_supported(schema: Mapping[str, Any], where: str = "$") -> None:
    """Raise ``ValueError`` if ``schema`` uses anything outside our keyword subset."""
    if not isinstance(schema, Mapping):
        raise ValueError(f"{where}: a schema must be an object")
    for keyword, value in schema.items():
        if keyword in ANNOTATION_KEYWORDS:
            continue
        if keyword == "type":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not names or not set(names) <= _JSON_TYPES:
                raise ValueError(f"{where}: bad type {value!r}")
        elif keyword not in _GUARD:
            raise ValueError(f"{where}: unsupported schema keyword {keyword!r}")
        elif keyword in ("maxLength", "minItems", "maxItems"):
            if type(value) is not int or value < 0:
                raise ValueError(f"{where}: {keyword} must be a non-negative integer")
        elif keyword in ("minimum", "multipleOf"):
            if type(value) not in (int, float) or (keyword == "multipleOf" and value <= 0):
                raise ValueError(f"{where}: bad {keyword} {value!r}")
        elif keyword == "enum":
            if not isinstance(value, list) or not value:
                raise ValueError(f"{where}: enum must be a non-empty list")
        elif keyword in ("pattern", "format"):
            if not isinstance(value, str):
                raise ValueError(f"{where}: {keyword} must be a string")
        elif keyword == "required":
            if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
                raise ValueError(f"{where}: required must be a list of names")
        elif keyword == "additionalProperties":
            if not isinstance(value, bool):
                raise ValueError(f"{where}: additionalProperties must be true or false")
        elif keyword == "items":
            check_supported(value, f"{where}[]")
        elif keyword == "properties":
            if not isinstance(value, Mapping):
                raise ValueError(f"{where}: properties must be an object")
            for name, sub in value.items():
                check_supported(sub, f"{where}.{name}")


# RFC 3339 §5.6, ranges included; ``[0-9]`` since ``\d`` would accept non-ASCII digits.
# The date part has a fixed width, so the day-of-month check below can slice.
_DATE_TIME = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt]"
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_rfc3339_date_time(text: str) -> bool:
    """Whether ``text`` is an RFC 3339 ``date-time`` (offset mandatory, leap second 60 allowed)."""
    if _DATE_TIME.fullmatch(text) is None:
        return False
    day = int(text[8:10])
    if day <= 28:
        return True
    month = int(text[5:7])
    if month == 2:
        return day == 29 and calendar.isleap(int(text[:4]))
    return day <= _DAYS_IN_MONTH[month]


def _ratio(value: object) -> tuple[int, int]:
    # A float is read as the decimal it was written as on the wire (its shortest repr).
    if isinstance(value, int):
        return value, 1
    if isinstance(value, float):
        return Decimal(repr(value)).as_integer_ratio()
    if isinstance(value, Decimal):
        return value.as_integer_ratio()
    fraction = Fraction(value)  # type: ignore[call-overload]
    return fraction.numerator, fraction.denominator


def is_decimal_multiple(value: object, divisor: object) -> bool:
    """Whether the number ``value`` is a multiple of ``divisor``, both read as decimals."""
    try:
        numerator, denominator = _ratio(value)
        divisor_num, divisor_den = _ratio(divisor)
    except (ValueError, OverflowError, TypeError, ArithmeticError):
        return False  # NaN, infinities, complex: never a multiple
    if divisor_num == 0:
        return False
    return (numerator * divisor_den) % (denominator * divisor_num) == 0


def json_equal(one: object, two: object) -> bool:
    """Equality as jsonschema's ``enum`` sees it: ``True`` is not ``1``, containers recurse."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(json_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return one.keys() == two.keys() and all(json_equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and one == two
    return one == two


def _is_int4(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_int6(value: object) -> bool:
    return _is_int4(value) or (isinstance(value, float) and value.is_integer())


def _is_number(value: object) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _enum_match(values: tuple[object, ...], value: object) -> bool:
    return any(json_equal(each, value) for each in values)


class CompiledSchema(Generic[V]):
    """The two generated functions for one schema, and their source for debugging."""

    __slots__ = ("iter_violations", "source", "valid")

    def __init__(
        self,
        valid: Callable[[object], bool],
        iter_violations: Callable[[object], Iterator[V]],
        source: str,
    ) -> None:
        self.valid = valid
        self.iter_violations = iter_violations
        self.source = source


class _Emitter:
    """Writes the body of one generated function; ``yielding`` picks the generator flavour."""

    def __init__(
        self,
        draft: int,
        consts: dict[str, object],
        yielding: bool,
        trust_date_times: bool = False,
    ) -> None:
        self.draft = draft
        self.trust_date_times = trust_date_times
        self.consts = consts
        self.yielding = yielding
        self.lines: list[str] = []
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: object) -> str:
        name = f"_c{len(self.consts)}"
        self.consts[name] = value
        return name

    def put(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def block(self, indent: int, header: str, body: Callable[[int], None]) -> None:
        self.put(indent, header)
        mark = len(self.lines)
        body(indent + 1)
        if len(self.lines) == mark:
            self.put(indent + 1, "pass")

    def fail(
        self,
        indent: int,
        keyword: str,
        var: str,
        segs: list[str],
        value: object,
        field: str = "None",
    ) -> None:
        if not self.yielding:
            self.put(indent, "return False")
            return
        path = "(" + "".join(f"{s}, " for s in segs) + ")"
        self.put(indent, f"yield _fail({keyword!r}, {path}, {field}, {var}, {self.const(value)})")

    def type_test(self, name: str, var: str) -> str:
        if name == "string":
            return f"isinstance({var}, str)"
        if name == "integer":
            helper = "_is_int6" if self.draft >= 6 else "_is_int4"
            return f"(type({var}) is int or {helper}({var}))"
        if name == "number":
            return f"(type({var}) is float or type({var}) is int or _is_number({var}))"
        if name == "object":
            return f"isinstance({var}, dict)"
        if name == "array":
            return f"isinstance({var}, list)"
        if name == "boolean":
            return f"isinstance({var}, bool)"
        return f"{var} is None"

    def node(self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int) -> None:
        """Emit the checks of ``schema`` on the value held in ``var``."""
        types = schema.get("type")
        if types == "string" and not self.yielding and _only_string_enum(schema):
            # An enumeration of strings is a string: one membership test checks both.
            self.enum(schema["enum"], var, segs, indent, known=None, negated=False)
            return
        if isinstance(types, str):
            test = self.type_test(types, var)
            if not self.yielding:
                self.put(indent, f"if not {test}:")
                self.put(indent + 1, "return False")
                self.checks(schema, var, segs, indent, known=types, negated=False)
                return
            self.block(
                indent,
                f"if {test}:",
                lambda i: self.checks(schema, var, segs, i, known=types, negated=False),
            )

            def otherwise(i: int) -> None:
                self.fail(i, "type", var, segs, types)
                self.checks(schema, var, segs, i, known=types, negated=True)

            self.block(indent, "else:", otherwise)
            return
        if types is not None:
            test = " or ".join(self.type_test(t, var) for t in types)
            self.block(
                indent, f"if not ({test}):", lambda i: self.fail(i, "type", var, segs, types)
            )
        self.checks(schema, var, segs, indent, known=None, negated=False)

    def checks(
        self,
        schema: Mapping[str, Any],
        var: str,
        segs: list[str],
        indent: int,
        *,
        known: str | None,
        negated: bool,
    ) -> None:
        """Emit every keyword but ``type``, grouped by the JSON type each one needs.

        The groups' types are disjoint, so grouping keeps the canonical order of what one
        value yields.
        """
        if "enum" in schema:
            self.enum(schema["enum"], var, segs, indent, known=known, negated=negated)
        for guard in ("string", "number", "array", "object"):
            keywords = [k for k in KEYWORD_RANK if _GUARD.get(k) == guard and k in schema]
            if guard == "string" and schema.get("format") != "date-time":
                # Formats we do not know are not checked, as with jsonschema's FormatChecker.
                keywords = [k for k in keywords if k != "format"]
            if not keywords:
                continue
            implied = known == guard or (known == "integer" and guard == "number")
            if known is not None and not negated and not implied:
                continue  # the value has another type, so these keywords do not apply
            if known is not None and negated and known == guard:
                continue
            emit = self._emitters(schema, var, segs, keywords)
            if known is not None and not negated:
                emit(indent)
            else:
                self.block(indent, f"if {self.type_test(guard, var)}:", emit)

    def _emitters(
        self, schema: Mapping[str, Any], var: str, segs: list[str], keywords: list[str]
    ) -> Callable[[int], None]:
        def emit(indent: int) -> None:
            for keyword in keywords:
                getattr(self, "kw_" + keyword)(schema, var, segs, indent)

        return emit

    def enum(
        self,
        values: list[Any],
        var: str,
        segs: list[str],
        indent: int,
        *,
        known: str | None,
        negated: bool,
    ) -> None:
        strings = frozenset(v for v in values if isinstance(v, str))
        others = tuple(v for v in values if not isinstance(v, str))
        if not others and known == "string":
            test = "True" if negated else f"{var} not in {self.const(strings)}"
        elif not others and known is None and not self.yielding:
            # valid() only: a value that is no string is in no set of strings, and one that
            # cannot be hashed raises TypeError, which valid() answers False.
            test = f"{var} not in {self.const(strings)}"
        elif not others:
            test = f"not (isinstance({var}, str) and {var} in {self.const(strings)})"
        else:
            test = f"not _enum_match({self.const(tuple(values))}, {var})"
        self.block(indent, f"if {test}:", lambda i: self.fail(i, "enum", var, segs, values))

    def kw_maxLength(
        self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int
    ) -> None:
        limit = schema["maxLength"]
        self.block(
            indent,
            f"if len({var}) > {limit!r}:",
            lambda i: self.fail(i, "maxLength", var, segs, limit),
        )

    def kw_pattern(self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int) -> None:
        pattern = schema["pattern"]
        regex = self.const(re.compile(pattern))
        self.block(
            indent,
            f"if {regex}.search({var}) is None:",
            lambda i: self.fail(i, "pattern", var, segs, pattern),
        )

    def kw_minimum(self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int) -> None:
        bound = schema["minimum"]
        self.block(
            indent,
            f"if {var} < {self.const(bound)}:",
            lambda i: self.fail(i, "minimum", var, segs, bound),
        )

    def kw_multipleOf(
        self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int
    ) -> None:
        step = schema["multipleOf"]
        self.block(
            indent,
            f"if not _multiple({var}, {self.const(step)}):",
            lambda i: self.fail(i, "multipleOf", var, segs, step),
        )

    def kw_format(self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int) -> None:
        if self.trust_date_times and not self.yielding:
            return
        self.block(
            indent,
            f"if not _date_time({var}):",
            lambda i: self.fail(i, "format", var, segs, "date-time"),
        )

    def kw_minItems(
        self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int
    ) -> None:
        limit = schema["minItems"]
        self.block(
            indent,
            f"if len({var}) < {limit!r}:",
            lambda i: self.fail(i, "minItems", var, segs, limit),
        )

    def kw_maxItems(
        self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int
    ) -> None:
        limit = schema["maxItems"]
        self.block(
            indent,
            f"if len({var}) > {limit!r}:",
            lambda i: self.fail(i, "maxItems", var, segs, limit),
        )

    def kw_items(self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int) -> None:
        item = self.fresh("x")
        if not self.yielding:
            self.block(
                indent, f"for {item} in {var}:", lambda i: self.node(schema["items"], item, segs, i)
            )
            return
        index = self.fresh("i")
        self.block(
            indent,
            f"for {index}, {item} in enumerate({var}):",
            lambda i: self.node(schema["items"], item, [*segs, index], i),
        )

    def kw_additionalProperties(
        self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int
    ) -> None:
        if schema["additionalProperties"] is not False:
            return
        known = self.const(frozenset(schema.get("properties", {})))
        if not self.yielding:
            self.block(
                indent, f"if not {known}.issuperset({var}):", lambda i: self.put(i, "return False")
            )
            return
        key = self.fresh("k")

        def each_key(i: int) -> None:
            self.block(
                i,
                f"if {key} not in {known}:",
                lambda j: self.fail(j, "additionalProperties", var, segs, False, field=key),
            )

        self.block(
            indent,
            f"if not {known}.issuperset({var}):",
            lambda i: self.block(i, f"for {key} in {var}:", each_key),
        )

    def kw_required(
        self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int
    ) -> None:
        required = schema["required"]
        properties = schema.get("properties", {})
        for name in required:
            if not self.yielding and name in properties:
                continue  # checked while reading the property, see kw_properties
            self.put(indent, f"if {name!r} not in {var}:")
            self.fail(indent + 1, "required", var, segs, required, field=repr(name))

    def kw_properties(
        self, schema: Mapping[str, Any], var: str, segs: list[str], indent: int
    ) -> None:
        required = set(schema.get("required", ())) if not self.yielding else set()
        for name, sub in schema["properties"].items():
            if not self.yielding and name not in required and _only_string_enum(sub):
                # Absent, or one of the strings: read with one of them as the default.
                values = self.const(frozenset(sub["enum"]))
                present = f"{var}.get({name!r}, {sub['enum'][0]!r})"
                self.block(
                    indent, f"if {present} not in {values}:", lambda i: self.put(i, "return False")
                )
                continue
            value = self.fresh("v")
            self.put(indent, f"{value} = {var}.get({name!r}, _MISSING)")
            if name in required:
                self.put(indent, f"if {value} is _MISSING:")
                self.put(indent + 1, "return False")
                self.node(sub, value, [*segs, repr(name)], indent)
            else:
                self.put(indent, f"if {value} is not _MISSING:")
                mark = len(self.lines)
                self.node(sub, value, [*segs, repr(name)], indent + 1)
                if len(self.lines) == mark:
                    self.put(indent + 1, "pass")


def _only_string_enum(schema: Mapping[str, Any]) -> bool:
    """Whether ``schema`` says no more than "one of these strings" (its other keywords, if
    any, follow from that: a description, a type of string)."""
    values = schema.get("enum")
    return (
        isinstance(values, list)
        and bool(values)
        and all(isinstance(v, str) for v in values)
        and set(schema) <= {"type", "enum", "description", "$comment", "title"}
    )


def compile_schema(
    schema: Mapping[str, Any],
    fail: FailFn[V],
    label: str = "schema",
    *,
    trust_date_times: bool = False,
) -> CompiledSchema[V]:
    """Generate, compile and return the validating functions for ``schema``.

    ``trust_date_times``: ``valid`` takes every string in a date-time field as one (for
    payloads our own converter wrote, whose date-times only ever come from its RFC 3339
    formatter); ``iter_violations`` still checks them.
    """
    check_supported(schema)
    draft = draft_of(schema)
    consts: dict[str, object] = {}
    valid = _Emitter(draft, consts, yielding=False, trust_date_times=trust_date_times)
    valid.node(schema, "payload", [], 2)
    gen = _Emitter(draft, consts, yielding=True)
    gen.node(schema, "payload", [], 1)
    namespace: dict[str, Any] = {
        "_fail": fail,
        "_MISSING": object(),
        "_multiple": is_decimal_multiple,
        "_date_time": is_rfc3339_date_time,
        "_enum_match": _enum_match,
        "_is_int4": _is_int4,
        "_is_int6": _is_int6,
        "_is_number": _is_number,
        **consts,
    }
    # What the bodies use are the functions' globals, not keyword-only defaults: CPython
    # fills every keyword-only default of a call from a dict, one lookup each (0.7 µs per
    # call for StopTransaction's 70), while a global read is cached at its instruction.
    source = "\n".join(
        [
            "def valid(payload):",
            "    try:",
            *valid.lines,
            "        return True",
            # Only an unhashable value in an enumeration's membership test raises: False
            # sends the payload to iter_violations, which names what is wrong with it.
            "    except TypeError:",
            "        return False",
            "",
            "def iter_violations(payload):",
            *gen.lines,
            # Keeps this a generator even for a schema that can never fail.
            "    yield from ()",
            "",
        ]
    )
    exec(compile(source, f"<ocpp16csms validator {label}>", "exec"), namespace)
    return CompiledSchema(namespace["valid"], namespace["iter_violations"], source)
