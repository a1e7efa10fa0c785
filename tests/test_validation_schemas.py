"""The shipped schemas follow docs/schema-conventions.md (our compiler relies on it)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from ocpp16csms.validation import (
    schema_for,
    validator_for,
)

SCHEMA_DIR = resources.files("ocpp16csms").joinpath("schemas")
SCHEMA_NAMES = sorted(
    entry.name.removesuffix(".json")
    for entry in SCHEMA_DIR.iterdir()
    if entry.name.endswith(".json")
)
SECURITY_ACTIONS = {
    "CertificateSigned",
    "DeleteCertificate",
    "ExtendedTriggerMessage",
    "GetInstalledCertificateIds",
    "GetLog",
    "InstallCertificate",
    "LogStatusNotification",
    "SecurityEventNotification",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
    "SignedUpdateFirmware",
}
CONNECTOR_ID_ABOVE_ZERO = {
    "StartTransaction",
    "RemoteStartTransaction",
    "UnlockConnector",
    "TriggerMessage",
    "ExtendedTriggerMessage",
}
ALLOWED = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "maxLength",
    "minimum",
    "multipleOf",
    "format",
    "items",
    "minItems",
    "maxItems",
}


def action_of(name: str) -> str:
    return name.removesuffix("Response")


def nodes(schema: Mapping[str, Any], path: str = "$") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every (sub)schema with its JSON path (``[]`` for array items)."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from nodes(sub, f"{path}.{name}")
    if "items" in schema:
        yield from nodes(schema["items"], f"{path}[]")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_header_and_layout(name: str) -> None:
    text = SCHEMA_DIR.joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema = schema_for(name)
    assert text == json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    security = action_of(name) in SECURITY_ACTIONS
    draft = "06" if security else "04"
    id_key = "$id" if security else "id"
    assert schema["$schema"] == f"http://json-schema.org/draft-{draft}/schema#"
    assert schema[id_key] == f"urn:ocpp16csms:1.6:{name}"
    assert schema["title"] == name
    order = ["$schema", id_key, "title", "type", "properties", "additionalProperties", "required"]
    assert list(schema) == [k for k in order if k in schema]
    meta = jsonschema.Draft6Validator if security else jsonschema.Draft4Validator
    meta.check_schema(schema)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_keywords_within_our_subset(name: str) -> None:
    validator_for(name)  # refuses any keyword outside the subset
    for path, node in nodes(schema_for(name)):
        if path == "$":
            continue
        assert set(node) <= ALLOWED, path
        kind = node["type"]
        if kind == "object":
            assert list(node) == [
                k for k in ("type", "properties", "additionalProperties", "required") if k in node
            ], path
        if "enum" in node:
            assert kind == "string", path
            assert len(set(node["enum"])) == len(node["enum"]), path
        if "format" in node:
            assert (kind, node["format"]) == ("string", "date-time"), path
        if "maxLength" in node:
            assert kind == "string", path
        if kind == "array":
            assert "items" in node, path
            assert node.get("minItems", 1) == 1, path


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_object_is_closed(name: str) -> None:
    for path, node in nodes(schema_for(name)):
        if node.get("type") != "object":
            continue
        assert "properties" in node, path
        assert node["additionalProperties"] is False, path
        required = node.get("required")
        if required is not None:
            assert required, f"{path}: an empty required list"
            assert len(set(required)) == len(required), path
            assert set(required) <= set(node["properties"]), path


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_bounds_only_where_the_spec_gives_them(name: str) -> None:
    for path, node in nodes(schema_for(name)):
        field = path.rsplit(".", 1)[-1]
        if path.endswith("chargingSchedulePeriod[].limit"):
            assert node.get("multipleOf") == 0.1, path  # "accepts at most one digit fraction"
        if field == "minChargingRate":
            assert node.get("multipleOf") == 0.1, path
        if field == "connectorId":
            expected = 1 if action_of(name) in CONNECTOR_ID_ABOVE_ZERO else 0
            assert node.get("minimum") == expected, path
        elif field == "stackLevel" and path != "$.stackLevel":
            assert node.get("minimum") == 0, path  # ChargingProfile.stackLevel
        else:
            assert "minimum" not in node, path
        if "multipleOf" in node:
            assert field in ("limit", "minChargingRate"), path
            assert node["multipleOf"] == 0.1, path
            assert node["type"] == "number", path
