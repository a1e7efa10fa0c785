"""Property tests over every shipped schema: the compiled validator agrees with jsonschema."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

import pytest
from hypothesis import find, given
from hypothesis import strategies as st

from ocpp16csms.errors import ErrorCode
from ocpp16csms.testing import (
    faulty_payloads,
    payloads,
)
from ocpp16csms.validation import (
    Violation,
    reference_violations,
    schema_for,
    validator_for,
)

SCHEMA_NAMES = sorted(
    entry.name.removesuffix(".json")
    for entry in resources.files("ocpp16csms").joinpath("schemas").iterdir()
    if entry.name.endswith(".json")
)


def both(name: str, payload: object) -> tuple[list[Violation], list[Violation]]:
    """Compiled and reference violations, after checking the compiled API is consistent."""
    validator = validator_for(name)
    compiled = validator.violations(payload)
    assert validator.is_valid(payload) == (compiled == [])
    assert validator.first_violation(payload) == (compiled[0] if compiled else None)
    return compiled, reference_violations(name, payload)


def assert_same_verdicts(name: str, payload: object) -> None:
    compiled, reference = both(name, payload)
    assert (compiled == []) == (reference == [])
    assert {(v.code, v.path) for v in compiled} == {(v.code, v.path) for v in reference}
    # Both sides build violations the same way, so whole lists (order included) must agree.
    assert compiled == reference


def test_all_78_schemas_are_found() -> None:
    assert len(SCHEMA_NAMES) == 78
    requests = [n for n in SCHEMA_NAMES if not n.endswith("Response")]
    assert sorted(f"{n}Response" for n in requests) == [
        n for n in SCHEMA_NAMES if n.endswith("Response")
    ]


@pytest.mark.parametrize("name", SCHEMA_NAMES)
@given(data=st.data())
def test_generated_payloads_are_valid(name: str, data: st.DataObject) -> None:
    payload = data.draw(payloads(name))
    assert both(name, payload) == ([], [])


@pytest.mark.parametrize("name", SCHEMA_NAMES)
@given(data=st.data())
def test_one_fault_earns_its_code(name: str, data: st.DataObject) -> None:
    payload, code, keyword = data.draw(faulty_payloads(name))
    compiled, reference = both(name, payload)
    assert compiled, "the fault went unnoticed"
    first = compiled[0]
    assert (first.code, first.keyword) == (code, keyword)
    assert reference
    assert (reference[0].code, reference[0].path) == (first.code, first.path)
    # One fault, one place. A wrong type on an enum field also misses the enum, nothing else.
    assert {v.path for v in compiled} == {first.path}
    kinds = [v.keyword for v in compiled]
    assert kinds == [keyword] or (keyword == "type" and kinds == ["type", "enum"])


# --- same verdicts on arbitrary and mutated payloads ----------------------------------------


def _walk(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield schema
    for sub in schema.get("properties", {}).values():
        yield from _walk(sub)
    if "items" in schema:
        yield from _walk(schema["items"])


@cache
def _json_values(name: str) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, biased towards the names and values the schema talks about."""
    nodes = list(_walk(schema_for(name)))
    names = sorted({n for node in nodes for n in node.get("properties", {})})
    enum_values = sorted({v for node in nodes for v in node.get("enum", ())})
    keys = st.sampled_from(names) | st.text(max_size=4) if names else st.text(max_size=4)
    strings = st.text(max_size=8) | st.sampled_from(
        [*enum_values, "2024-02-29T23:59:60.5+01:00", "2023-02-29T00:00:00Z", "2024-01-01T00:00:00"]
    )
    numbers = (
        st.integers(-(2**40), 2**40)
        | st.integers(-1000, 1000).map(lambda k: k / 10)
        | st.integers(-1000, 1000).map(lambda k: k / 100)
        | st.floats()
    )
    scalars = st.none() | st.booleans() | numbers | strings
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=12,
    )
    return st.dictionaries(keys, values, max_size=6) | values


@pytest.mark.parametrize("name", SCHEMA_NAMES)
@given(data=st.data())
def test_same_verdicts_on_arbitrary_json(name: str, data: st.DataObject) -> None:
    assert_same_verdicts(name, data.draw(_json_values(name)))


def _slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) pair below ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield value, key
            yield from _slots(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index
            yield from _slots(item)


@st.composite
def mutated_payloads(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A valid or single-fault payload, then up to three blind edits anywhere in it."""
    start = draw(payloads(name) | faulty_payloads(name).map(lambda case: case[0]))
    payload: dict[str, Any] = copy.deepcopy(start)
    junk = _json_values(name)
    for _ in range(draw(st.integers(1, 3))):
        slots = [(payload, None), *_slots(payload)]
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if key is not None and action == "replace":
            container[key] = draw(junk)
        elif key is not None and action == "delete":
            del container[key]
        elif isinstance(container, dict):
            container[draw(st.text(max_size=4))] = draw(junk)
        else:
            container.append(draw(junk))
    return payload


@pytest.mark.parametrize("name", SCHEMA_NAMES)
@given(data=st.data())
def test_same_verdicts_on_mutated_payloads(name: str, data: st.DataObject) -> None:
    assert_same_verdicts(name, data.draw(mutated_payloads(name)))


@pytest.mark.parametrize(
    ("name", "keyword"),
    [
        ("Authorize", "required"),
        ("Authorize", "type"),
        ("Authorize", "maxLength"),
        ("Heartbeat", "additionalProperties"),
        ("StatusNotification", "enum"),
        ("StatusNotification", "minimum"),
        ("StartTransaction", "format"),
        ("MeterValues", "minItems"),
        ("SetChargingProfile", "multipleOf"),
    ],
)
def test_every_kind_of_fault_is_injected(name: str, keyword: str) -> None:
    @given(faulty_payloads(name, keywords={keyword}))
    def check(case: tuple[dict[str, Any], ErrorCode, str]) -> None:
        payload, code, kind = case
        assert kind == keyword
        assert [(v.code, v.keyword) for v in validator_for(name).violations(payload)][:1] == [
            (code, keyword)
        ]

    check()


def test_faults_reach_deep_fields() -> None:
    """Some single faults land inside MeterValues' sampled values, three levels down."""

    def depth(case: tuple[dict[str, Any], ErrorCode, str]) -> int:
        first = validator_for("MeterValues").first_violation(case[0])
        assert first is not None
        return first.path.count("[") + first.path.count(".")

    deep = find(faulty_payloads("MeterValues"), lambda case: depth(case) >= 4)
    assert depth(deep) >= 4  # e.g. $.meterValue[0].sampledValue[1].unit
