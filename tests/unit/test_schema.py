import pytest

from stratus.errors import ConfigError
from stratus.schema import check_schema, coerce_query, validate

OBJ = {"type": "object", "additionalProperties": False, "required": ["a"],
       "properties": {"a": {"type": "integer", "minimum": 1, "maximum": 5},
                      "b": {"type": ["string", "null"], "format": "date"},
                      "c": {"type": "array", "items": {"type": "string", "maxLength": 2}, "maxItems": 2,
                            "uniqueItems": True},
                      "d": {"type": "object", "properties": {"e": {"type": "boolean"}}, "required": ["e"]},
                      "f": {"type": "string", "enum": ["x", "y"], "pattern": "^[a-z]$"}}}


def test_valid() -> None:
    assert validate(OBJ, {"a": 3, "b": None, "c": ["ab"], "d": {"e": True}, "f": "x"}) == []
    assert validate(OBJ, {"a": 1, "b": "2024-02-29"}) == []


@pytest.mark.parametrize("value, problems", [
    ({}, ["a: is required"]),
    ({"a": True}, ["a: must be integer"]),
    ({"a": 1.5}, ["a: must be integer"]),
    ({"a": 0}, ["a: must be >= 1"]),
    ({"a": 6}, ["a: must be <= 5"]),
    ({"a": 1, "b": "2023-02-29"}, ["b: is not a valid date"]),
    ({"a": 1, "b": "2024-1-1"}, ["b: is not a valid date"]),
    ({"a": 1, "b": 5}, ["b: must be string or null"]),
    ({"a": 1, "c": ["abc", "a", "a"]}, ["c: must have at most 2 items", "c: items must be unique",
                                        "c[0]: must be at most 2 characters"]),
    ({"a": 1, "d": {}}, ["d.e: is required"]),
    ({"a": 1, "d": {"e": "no"}}, ["d.e: must be boolean"]),
    ({"a": 1, "f": "z"}, ["f: must be one of 'x', 'y'"]),
    ({"a": 1, "zz": 1}, ["zz: unknown field"]),
    ("str", ["body: must be object"]),
])
def test_problems_name_the_field(value: object, problems: list[str]) -> None:
    assert validate(OBJ, value) == problems


def test_unsupported_keywords_are_refused_at_declaration() -> None:
    with pytest.raises(ConfigError, match="oneOf"):
        check_schema({"type": "object", "properties": {"x": {"oneOf": []}}}, "body")
    with pytest.raises(ConfigError, match="uuid"):
        check_schema({"type": "string", "format": "uuid"}, "body")
    with pytest.raises(ConfigError, match="unknown type"):
        check_schema({"type": "int"}, "body")


def test_query_coercion() -> None:
    assert coerce_query({"type": "integer"}, "limit", "5") == (5, None)
    assert coerce_query({"type": "integer"}, "limit", "x")[1] == "limit: must be an integer"
    assert coerce_query({"type": "boolean"}, "done", "true") == (True, None)
    assert coerce_query({"type": "boolean"}, "done", "1")[1] == "done: must be true or false"
    assert coerce_query({"type": "string"}, "q", "a b") == ("a b", None)
