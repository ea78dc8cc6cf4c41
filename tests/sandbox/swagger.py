"""Clever's Swagger 2.0 files as JSON Schemas, for checking the sandbox's answers.

Swagger 2.0 semantics: ``x-nullable`` admits null, a ``discriminator`` (Events) picks the
definition named by the ``type`` value. Two levels of strictness:

- Envelopes (``*Response``, ``Link``) allow extra keys, as Swagger does by default: real Clever
  adds ``uri`` to each list item and ``links`` to single records, which the files do not list.
- Records (every other definition) are strict: a field the spec does not define is an error,
  so the sandbox cannot drift from Clever's schema unnoticed. The one exception is
  ``previous_attributes`` inside an event's ``data`` (``*Object``), where real traffic puts it.
  Clever's own recording of the demo district breaks strictness too (``email`` inside
  ``roles.student``), so answers built from it are checked with ``strict_records=False``.
"""

import copy
from functools import cache
from pathlib import Path

import jsonschema
import yaml

SPEC_DIR = Path(__file__).resolve().parents[2] / "sandbox" / "spec"


@cache
def load_spec(name: str) -> dict:
    return yaml.safe_load((SPEC_DIR / name).read_text())


def _is_envelope(name: str) -> bool:
    return name.endswith("Response") or name in {"Link", "SubmissionsLink"}


def _convert(node, *, strict: bool):
    if isinstance(node, list):
        return [_convert(item, strict=strict) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key.startswith("x-") or key in {"discriminator", "example", "description", "format"}:
            continue
        if key == "properties":
            # Field names are data here, not schema keywords: keep every one.
            out[key] = {name: _convert(field, strict=strict) for name, field in value.items()}
        else:
            out[key] = _convert(value, strict=strict)
    if node.get("x-nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        elif "$ref" in out:
            out = {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
    if strict and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _merge_all_of(schema: dict, raw_definitions: dict) -> dict:
    """An ``allOf`` of object schemas as one object schema, so strictness sees every field."""
    merged: dict = {"type": "object", "properties": {}, "required": []}
    for part in schema["allOf"]:
        if "$ref" in part:
            part = raw_definitions[part["$ref"].rsplit("/", 1)[1]]
        merged["properties"].update(part.get("properties", {}))
        merged["required"] += part.get("required", [])
    if not merged["required"]:
        del merged["required"]
    return merged


def definitions(spec_name: str, *, strict_records: bool = True) -> dict:
    spec = load_spec(spec_name)
    raw_definitions = spec.get("definitions", {})
    converted = {}
    for name, schema in raw_definitions.items():
        if "allOf" in schema:
            schema = _merge_all_of(schema, raw_definitions)
        # A discriminator base (Event) is checked loosely here; ``validate`` then checks each
        # event strictly against the definition its ``type`` names.
        loose = _is_envelope(name) or "discriminator" in schema
        converted[name] = _convert(schema, strict=strict_records and not loose)
        if name.endswith("Object") and strict_records:
            converted[name]["properties"]["previous_attributes"] = {"type": "object"}
    return converted


def response_schema(spec_name: str, path: str, method: str, status: int) -> dict | None:
    """The JSON Schema for one operation's answer, or None when the spec gives no body."""
    spec = load_spec(spec_name)
    response = spec["paths"][path][method]["responses"].get(str(status))
    if response is None:
        raise AssertionError(f"{spec_name}: {method.upper()} {path} does not document {status}")
    if "$ref" in response:
        response = spec["responses"][response["$ref"].rsplit("/", 1)[1]]
    return copy.deepcopy(response.get("schema"))


def validate(body, schema: dict, spec_name: str, *, strict_records: bool = True) -> None:
    """Validate ``body``; events are checked against the definition their ``type`` names."""
    defs = definitions(spec_name, strict_records=strict_records)
    root = {**schema, "definitions": defs}
    jsonschema.validate(body, root, cls=jsonschema.Draft4Validator)
    for event in _events_in(body):
        event_schema = defs.get(event.get("type", ""))
        if event_schema is None:
            raise AssertionError(f"unknown event type {event.get('type')!r}")
        jsonschema.validate(event, {**event_schema, "definitions": defs}, cls=jsonschema.Draft4Validator)


def _events_in(body) -> list[dict]:
    if not isinstance(body, dict):
        return []
    data = body.get("data")
    items = data if isinstance(data, list) else [body]
    return [
        item["data"]
        for item in items
        if isinstance(item, dict)
        and isinstance(item.get("data"), dict)
        and "." in str(item["data"].get("type", ""))
    ]
