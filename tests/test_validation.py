"""Schema validation: keyword → CallError code, paths and messages, exact rules, the policy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from ocpp16csms.errors import (
    ErrorCode,
    FormationViolation,
    OccurenceConstraintViolation,
    PropertyConstraintViolation,
)
from ocpp16csms.validation import (
    PayloadValidator,
    Relaxation,
    RelaxedRule,
    ValidationPolicy,
    ValidationResult,
    Violation,
    is_rfc3339_date_time,
    reference_violations,
    schema_for,
    schema_names,
    validator_for,
    violation_error,
)

DRAFT4 = "http://json-schema.org/draft-04/schema#"
DRAFT6 = "http://json-schema.org/draft-06/schema#"

SAMPLE: Mapping[str, Any] = {
    "$schema": DRAFT4,
    "title": "Sample",
    "type": "object",
    "properties": {
        "idTag": {"type": "string", "maxLength": 20},
        "status": {"type": "string", "enum": ["Accepted", "Rejected"]},
        "connectorId": {"type": "integer", "minimum": 0},
        "limit": {"type": "number", "multipleOf": 0.1},
        "timestamp": {"type": "string", "format": "date-time"},
        "periods": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"startPeriod": {"type": "integer"}},
                "additionalProperties": False,
                "required": ["startPeriod"],
            },
            "minItems": 1,
            "maxItems": 2,
        },
    },
    "additionalProperties": False,
    "required": ["idTag"],
}

Check = Callable[[Mapping[str, Any], object], list[Violation]]
VALIDATORS: dict[str, Check] = {
    "compiled": lambda schema, payload: PayloadValidator(schema).violations(payload),
    "reference": reference_violations,
}
both_validators = pytest.mark.parametrize("check", list(VALIDATORS.values()), ids=list(VALIDATORS))

OCC = ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
PROP = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
FORM = ErrorCode.FORMATION_VIOLATION
TYPE = ErrorCode.TYPE_CONSTRAINT_VIOLATION
PERIOD = {"startPeriod": 0}


A = {"idTag": "a"}


@both_validators
@pytest.mark.parametrize(
    ("payload", "code", "where", "field_path"),
    [
        ({}, OCC, "required $", "idTag"),
        ({"idTag": 7}, TYPE, "type $.idTag", "idTag"),
        ({"idTag": "x" * 21}, PROP, "maxLength $.idTag", "idTag"),
        ({**A, "status": "Maybe"}, PROP, "enum $.status", "status"),
        ({**A, "connectorId": -1}, PROP, "minimum $.connectorId", "connectorId"),
        ({**A, "limit": 0.35}, PROP, "multipleOf $.limit", "limit"),
        ({**A, "timestamp": "2024-01-01T00:00:00"}, PROP, "format $.timestamp", "timestamp"),
        ({**A, "periods": []}, OCC, "minItems $.periods", "periods"),
        ({**A, "periods": [PERIOD] * 3}, OCC, "maxItems $.periods", "periods"),
        ({**A, "periods": [PERIOD, "p"]}, TYPE, "type $.periods[1]", "periods"),
        ({**A, "periods": [{}]}, OCC, "required $.periods[0]", "periods.startPeriod"),
        (
            {**A, "periods": [{**PERIOD, "x": 0}]},
            FORM,
            "additionalProperties $.periods[0]",
            "periods.x",
        ),
        ({**A, "vendorExtra": 1}, FORM, "additionalProperties $", "vendorExtra"),
        ([], FORM, "type $", ""),
        ("not an object", FORM, "type $", ""),
        (None, FORM, "type $", ""),
    ],
)
def test_each_keyword_earns_its_code(
    check: Check, payload: object, code: ErrorCode, where: str, field_path: str
) -> None:
    [v] = check(SAMPLE, payload)
    keyword, path = where.split()
    assert (v.code, v.keyword, v.path, v.field_path) == (code, keyword, path, field_path)
    # The field concerned is the last name of the field path: the missing or unknown field
    # for required / additionalProperties, otherwise the field holding the failing value.
    assert v.field == (field_path.rsplit(".", 1)[-1] or None)
    assert v.path in v.message
    assert f"({keyword})" in v.message


@both_validators
def test_violations_come_in_canonical_order(check: Check) -> None:
    payload = {
        "status": 1,
        "periods": [{"x": 1}],
        "unknownA": 1,
        "connectorId": -2,
        "unknownB": 2,
    }
    found = [(v.keyword, v.path, v.field) for v in check(SAMPLE, payload)]
    assert found == [
        ("additionalProperties", "$", "unknownA"),
        ("additionalProperties", "$", "unknownB"),
        ("required", "$", "idTag"),
        ("type", "$.status", "status"),
        ("enum", "$.status", "status"),  # jsonschema checks enum whatever the type
        ("minimum", "$.connectorId", "connectorId"),
        ("additionalProperties", "$.periods[0]", "x"),
        ("required", "$.periods[0]", "startPeriod"),
    ]


def test_first_violation_is_the_first_of_all() -> None:
    validator = PayloadValidator(SAMPLE)
    payload = {"connectorId": "one", "extra": True}
    assert validator.first_violation(payload) == validator.violations(payload)[0]
    assert validator.first_violation(payload).keyword == "additionalProperties"  # type: ignore[union-attr]
    assert validator.first_violation({"idTag": "ok"}) is None
    assert validator.is_valid({"idTag": "ok"})


@both_validators
@pytest.mark.parametrize(
    ("limit", "ok"),
    [
        (0.3, True),  # 0.3 / 0.1 is 2.9999999999999996 in binary floating point
        (7.1, True),
        (-0.3, True),
        (5, True),
        (123456.7, True),
        (1e22, True),
        (0.35, False),
        (1e-7, False),
        (0.30000000000000004, False),
        (float("inf"), False),
        (float("nan"), False),
    ],
)
def test_multiple_of_is_exact_in_decimal(check: Check, limit: float, ok: bool) -> None:
    found = check(SAMPLE, {"idTag": "a", "limit": limit})
    assert found == [] if ok else [v.keyword for v in found] == ["multipleOf"]


def _with_integer(draft: str) -> Mapping[str, Any]:
    return {"$schema": draft, "type": "object", "properties": {"n": {"type": "integer"}}}


@both_validators
@pytest.mark.parametrize(
    ("draft", "value", "ok"),
    [
        (DRAFT4, 5, True),
        (DRAFT4, 5.0, False),  # draft-04: a float is never an integer
        (DRAFT6, 5.0, True),  # draft-06: any number with a zero fraction is
        (DRAFT4, 5.5, False),
        (DRAFT6, 5.5, False),
        (DRAFT4, True, False),
        (DRAFT6, False, False),
    ],
)
def test_integer_rule_follows_the_draft(check: Check, draft: str, value: object, ok: bool) -> None:
    found = check(_with_integer(draft), {"n": value})
    assert found == [] if ok else [(v.code, v.keyword) for v in found] == [(TYPE, "type")]


@both_validators
def test_booleans_are_not_numbers(check: Check) -> None:
    found = check(SAMPLE, {"idTag": "a", "limit": True, "connectorId": False})
    assert [(v.keyword, v.path) for v in found] == [
        ("type", "$.connectorId"),
        ("type", "$.limit"),
    ]


@both_validators
def test_max_length_counts_code_points(check: Check) -> None:
    assert check(SAMPLE, {"idTag": "é" * 20}) == []
    assert check(SAMPLE, {"idTag": "\N{GRINNING FACE}" * 20}) == []
    assert [v.keyword for v in check(SAMPLE, {"idTag": "\N{GRINNING FACE}" * 21})] == ["maxLength"]


ACCEPTED_DATE_TIMES = [
    "2024-02-29T23:59:60.123+01:00",
    "2024-01-01t00:00:00z",
    "2024-01-01T00:00:00Z",
    "2000-02-29T12:30:45.000001-05:30",
    "1999-12-31T23:59:59.123456789+23:59",
    "0000-01-01T00:00:00Z",
]
REJECTED_DATE_TIMES = [
    "2024-01-01T00:00:00",  # no offset
    "2023-02-29T12:00:00Z",  # 2023 is no leap year
    "1900-02-29T12:00:00Z",
    "2024-04-31T12:00:00Z",
    "2024-00-10T12:00:00Z",
    "2024-01-00T12:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01T12:60:00Z",
    "2024-01-01T12:00:61Z",
    "2024-01-01T12:00:00+24:00",
    "2024-01-01T12:00:00+01:60",
    "2024-01-01T12:00:00+0100",
    "2024-01-01 12:00:00Z",
    "2024-01-01T12:00:00.Z",
    "2024-01-01T12:00Z",
    "2024-1-01T12:00:00Z",
    "2024-01-01T12:00:00Z\n",
    "\N{ARABIC-INDIC DIGIT TWO}024-01-01T12:00:00Z",
    "garbage",
    "",
]


@pytest.mark.parametrize("text", ACCEPTED_DATE_TIMES)
def test_rfc3339_date_times_accepted(text: str) -> None:
    assert is_rfc3339_date_time(text)
    for check in VALIDATORS.values():
        assert check(SAMPLE, {"idTag": "a", "timestamp": text}) == []


@pytest.mark.parametrize("text", REJECTED_DATE_TIMES)
def test_malformed_date_times_rejected(text: str) -> None:
    assert not is_rfc3339_date_time(text)
    for check in VALIDATORS.values():
        found = check(SAMPLE, {"idTag": "a", "timestamp": text})
        assert [(v.code, v.keyword) for v in found] == [(PROP, "format")]


def test_message_names_path_and_field() -> None:
    [v] = validator_for("BootNotification").violations(
        {"chargePointVendor": "x" * 40, "chargePointModel": "M"}
    )
    assert v.message.startswith("$.chargePointVendor: 'xxxx")
    assert v.message.endswith("… is longer than 20 characters (maxLength)")
    [v] = validator_for("Authorize").violations({})
    assert v.message == "$: required field 'idTag' is missing (required)"


def test_nested_path_and_field_path() -> None:
    sampled = [{"value": "1"}, {"value": "2"}, {"value": "3", "unit": "Parsec"}]
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2024-01-01T00:00:00Z", "sampledValue": sampled}],
    }
    [v] = validator_for("MeterValues").violations(payload)
    assert v.path == "$.meterValue[0].sampledValue[2].unit"
    assert (v.field, v.field_path) == ("unit", "meterValue.sampledValue.unit")
    assert v.message.startswith("$.meterValue[0].sampledValue[2].unit: 'Parsec' is not one of")
    assert reference_violations("MeterValues", payload) == [v]


@pytest.mark.parametrize("unit", ["Hertz", "Celsius", "Celcius"])
def test_units_the_errata_add_validate(unit: str) -> None:
    # Errata v4.0: Frequency is measured in Hertz; Celsius and the schemas' Celcius are both sent.
    sampled = [{"value": "49.98", "measurand": "Frequency", "unit": unit}]
    meter_value = [{"timestamp": "2024-01-01T00:00:00Z", "sampledValue": sampled}]
    meter_values = {"connectorId": 1, "meterValue": meter_value}
    stop = {
        "meterStop": 1,
        "timestamp": "2024-01-01T00:00:00Z",
        "transactionId": 1,
        "transactionData": meter_value,
    }
    for action, payload in (("MeterValues", meter_values), ("StopTransaction", stop)):
        assert validator_for(action).violations(payload) == []
        assert reference_violations(action, payload) == []
        hz = {**sampled[0], "unit": "Hz"}
        bad = {**meter_value[0], "sampledValue": [hz]}
        key = "meterValue" if action == "MeterValues" else "transactionData"
        [v] = validator_for(action).violations({**payload, key: [bad]})
        assert (v.keyword, v.field) == ("enum", "unit")


def test_violation_error_carries_code_and_details() -> None:
    [v] = validator_for("Authorize").violations({"idTag": "a", "foo": 1})
    error = violation_error(v)
    assert isinstance(error, FormationViolation)
    assert error.description == v.message
    assert error.details == {"path": "$", "field": "foo", "keyword": "additionalProperties"}
    [v] = validator_for("Authorize").violations({})
    assert isinstance(violation_error(v), OccurenceConstraintViolation)


def test_schema_loading_and_caching() -> None:
    assert "BootNotification" in schema_names()
    assert schema_for("BootNotification") is schema_for("BootNotification")
    assert schema_for("BootNotification")["title"] == "BootNotification"
    assert validator_for("Heartbeat") is validator_for("Heartbeat")
    for bad in ("NoSuchAction", "../pyproject", "", "BootNotification.json"):
        with pytest.raises(KeyError):
            schema_for(bad)
        with pytest.raises(KeyError):
            validator_for(bad)


@pytest.mark.parametrize(
    "schema",
    [
        {"$schema": DRAFT4, "type": "string", "minLength": 1},
        {"$schema": DRAFT4, "type": "object", "properties": {"a": {"$ref": "#/x"}}},
        {"$schema": DRAFT4, "type": "object", "additionalProperties": {"type": "string"}},
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
        {"type": "object"},
    ],
)
def test_schemas_outside_our_subset_are_refused(schema: Mapping[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"unsupported|bad|must"):
        PayloadValidator(schema)
    with pytest.raises(ValueError, match=r"unsupported|bad|must"):
        reference_violations(schema, {})


# --- policy --------------------------------------------------------------------------------

LONG_SERIAL = {
    "chargePointVendor": "V",
    "chargePointModel": "M1",
    "chargePointSerialNumber": "S" * 30,
}


def test_strict_policy_keeps_everything_and_has_a_fast_path() -> None:
    policy = ValidationPolicy.strict()
    assert policy == ValidationPolicy()
    assert policy.validate_outbound
    valid = {"chargePointVendor": "V", "chargePointModel": "M1"}
    first = policy.check("BootNotification", valid, action="BootNotification")
    assert first.ok
    assert first == ValidationResult()
    assert policy.check("BootNotification", valid, action="BootNotification") is first
    result = policy.check("BootNotification", LONG_SERIAL, action="BootNotification")
    assert not result.ok
    assert result.relaxed == ()
    assert [v.field for v in result.errors] == ["chargePointSerialNumber"]


MAX_LENGTH = RelaxedRule.MAX_LENGTH
ONLY_CP1 = frozenset({"CP1"})
ONLY_M1 = frozenset({"M1"})


@pytest.mark.parametrize(
    ("relaxation", "charge_point_id", "model", "waived"),
    [
        (Relaxation(rule=MAX_LENGTH), "CP1", "M1", True),
        (Relaxation(rule="maxLength", field="chargePointSerialNumber"), "CP1", "M1", True),
        (Relaxation(rule=MAX_LENGTH, field="chargePointModel"), "CP1", "M1", False),
        (Relaxation(rule=RelaxedRule.ENUM), "CP1", "M1", False),
        (Relaxation(rule=MAX_LENGTH, action="BootNotification"), "CP1", "M1", True),
        (Relaxation(rule=MAX_LENGTH, action="Authorize"), "CP1", "M1", False),
        (Relaxation(rule=MAX_LENGTH, charge_point_ids={"CP1"}), "CP1", "M1", True),
        (Relaxation(rule=MAX_LENGTH, charge_point_ids=ONLY_CP1), "CP2", "M1", False),
        (Relaxation(rule=MAX_LENGTH, charge_point_ids=ONLY_CP1), None, "M1", False),
        (Relaxation(rule=MAX_LENGTH, models=ONLY_M1), "CP9", "M1", True),
        (Relaxation(rule=MAX_LENGTH, models=ONLY_M1), "CP9", "M2", False),
        (Relaxation(rule=MAX_LENGTH, models=ONLY_M1), "CP9", None, False),
    ],
)
def test_relaxation_matches_only_its_context(
    relaxation: Relaxation, charge_point_id: str | None, model: str | None, waived: bool
) -> None:
    policy = ValidationPolicy(relaxations=(relaxation,))
    result = policy.check(
        "BootNotification",
        LONG_SERIAL,
        action="BootNotification",
        charge_point_id=charge_point_id,
        model=model,
    )
    assert result.ok is waived
    assert len(result.relaxed) == int(waived)
    assert len(result.errors) == int(not waived)
    assert (result.relaxed or result.errors)[0].keyword == "maxLength"


def test_relaxations_waive_only_their_rule() -> None:
    policy = ValidationPolicy(
        relaxations=[
            Relaxation(rule=RelaxedRule.ENUM, field="meterValue.sampledValue.measurand"),
            Relaxation(rule=RelaxedRule.EXTRA_FIELDS, models=frozenset({"Quirky"})),
            Relaxation(rule=RelaxedRule.DATE_TIME_FORMAT, action="MeterValues"),
        ]
    )
    sampled = {"value": "1", "measurand": "Energy.Fancy", "unit": "Parsec", "vendorBits": 1}
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2024-01-01T00:00:00", "sampledValue": [sampled]}],
    }
    result = policy.check("MeterValues", payload, action="MeterValues", model="Quirky")
    assert sorted(v.keyword for v in result.relaxed) == ["additionalProperties", "enum", "format"]
    assert [(v.keyword, v.field_path) for v in result.errors] == [
        ("enum", "meterValue.sampledValue.unit")
    ]
    assert isinstance(violation_error(result.errors[0]), PropertyConstraintViolation)
    other = policy.check("MeterValues", payload, action="MeterValues", model="Plain")
    assert [v.keyword for v in other.relaxed] == ["format", "enum"]
    assert [v.keyword for v in other.errors] == ["additionalProperties", "enum"]


def test_type_and_missing_fields_cannot_be_relaxed() -> None:
    assert {r.value for r in RelaxedRule} == {"maxLength", "enum", "additionalProperties", "format"}
    policy = ValidationPolicy(relaxations=tuple(Relaxation(rule=r) for r in RelaxedRule))
    result = policy.check("Authorize", ["idTag"], action="Authorize")
    assert [v.code for v in result.errors] == [FORM]
    assert not result.relaxed
    result = policy.check("Authorize", {"idTag": 1}, action="Authorize")
    assert [v.code for v in result.errors] == [TYPE]


@pytest.mark.parametrize("odd", [[], {}, ["Wh"], {"Wh": 1}, 1, 0.5, True, None, "wh", "Wh "])
@pytest.mark.parametrize("field", ["unit", "measurand", "context"])
def test_an_enumeration_refuses_every_value_outside_it_whatever_its_type(
    field: str, odd: object
) -> None:
    # The fast check tests membership alone for a string enumeration, required or not; an
    # unhashable value must end in False there (not an escaping TypeError), and the full
    # check must name the fault.
    validator = validator_for("MeterValues")
    sampled = {"value": "1", field: odd}
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [sampled]}],
    }
    assert not validator.is_valid(payload)
    keywords = {v.keyword for v in validator.violations(payload)}
    assert keywords in ({"type", "enum"}, {"enum"})
    status = validator_for("StatusNotification")
    required = {"connectorId": 1, "errorCode": "NoError", "status": odd}
    assert not status.is_valid(required)
    assert status.violations(required)
