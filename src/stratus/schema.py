"""Request validation with a small, declared subset of JSON Schema.

Routes declare their body and query parameters as JSON Schema (the dialect
OpenAPI 3.1 embeds, and close to what API Gateway request validators take),
so one declaration serves three purposes: validating requests locally,
documenting them in the OpenAPI document, and synthesizing models for AWS.

Only the keywords in ``KEYWORDS`` are understood. A schema using any other
keyword is refused when it is declared, never silently ignored.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from .errors import ConfigError

KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "enum",
    "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
    "minItems", "maxItems", "uniqueItems", "description", "default", "examples", "title",
})
FORMATS = frozenset({"date", "date-time", "email"})
_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}
# a plain ASCII addr-spec: nothing a mail header could read as a group, a comment or a second address
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                   r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_INT = re.compile(r"^-?[0-9]{1,18}\Z")
_NUM = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")


def check_schema(schema: dict[str, Any], where: str) -> dict[str, Any]:
    """Refuse keywords and formats this validator does not implement; return the schema."""
    if not isinstance(schema, dict):
        raise ConfigError(f"{where}: a schema must be a dict, got {type(schema).__name__}")
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise ConfigError(f"{where}: unsupported JSON Schema keyword(s): {', '.join(sorted(unknown))}")
    types = schema.get("type")
    for t in types if isinstance(types, list) else [types] if types else []:
        if t not in _TYPES:
            raise ConfigError(f"{where}: unknown type {t!r}")
    if "format" in schema and schema["format"] not in FORMATS:
        raise ConfigError(f"{where}: unsupported format {schema['format']!r}")
    if "pattern" in schema:
        re.compile(schema["pattern"])
    for name, sub in schema.get("properties", {}).items():
        check_schema(sub, f"{where}.{name}")
    if isinstance(schema.get("items"), dict):
        check_schema(schema["items"], f"{where}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        raise ConfigError(f"{where}: additionalProperties may only be true or false")
    return schema


def _type_ok(value: Any, t: str) -> bool:
    if t == "string":
        return isinstance(value, str)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    return value is None  # "null"


def _format_ok(value: str, fmt: str) -> bool:
    try:
        if fmt == "date":
            return bool(_DATE.match(value)) and bool(_dt.date.fromisoformat(value))
        if fmt == "date-time":
            _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return True
    except ValueError:
        return False
    return bool(EMAIL.match(value))  # "email"


def validate(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Every way ``value`` breaks ``schema``, each naming the field; an empty list means valid."""
    where = path or "body"
    problems: list[str] = []
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        if not any(_type_ok(value, t) for t in allowed):
            return [f"{where}: must be {' or '.join(allowed)}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: must be one of {', '.join(map(repr, schema['enum']))}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(f"{where}: must be at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where}: must be at most {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{where}: does not match {schema['pattern']}")
        if "format" in schema and not _format_ok(value, schema["format"]):
            problems.append(f"{where}: is not a valid {schema['format']}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: must be <= {schema['maximum']}")
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{where}: must have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{where}: must have at most {schema['maxItems']} items")
        if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
            problems.append(f"{where}: items must be unique")
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                problems += validate(schema["items"], item, f"{where}[{i}]")
    elif isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{_join(path, name)}: is required")
        if schema.get("additionalProperties") is False:
            for name in value:
                if name not in props:
                    problems.append(f"{_join(path, name)}: unknown field")
        for name, sub in props.items():
            if name in value:
                problems += validate(sub, value[name], _join(path, name))
    return problems


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def coerce_query(schema: dict[str, Any], name: str, raw: str) -> tuple[Any, str | None]:
    """Turn a query-string value into the type its schema declares; (value, problem)."""
    t = schema.get("type", "string")
    if t == "integer":
        return (int(raw), None) if _INT.match(raw) else (raw, f"{name}: must be an integer")
    if t == "number":
        return (float(raw), None) if _NUM.match(raw) else (raw, f"{name}: must be a number")
    if t == "boolean":
        if raw in ("true", "false"):
            return raw == "true", None
        return raw, f"{name}: must be true or false"
    return raw, None
