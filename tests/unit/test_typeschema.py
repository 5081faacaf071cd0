"""Bodies and responses declared as dataclasses or TypedDicts: the JSON Schema they become, and the values built."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, make_dataclass
from enum import Enum
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import pytest

from stratus.errors import ConfigError
from stratus.schema import validate
from stratus.typeschema import JsonSchema, build, schema_of, to_json


@dataclass
class Address:
    street: str
    zip: Annotated[str, {"pattern": "^[0-9]{5}$"}]


@dataclass
class Person:
    name: Annotated[str, {"minLength": 1, "maxLength": 40}]
    born: dt.date | None
    address: Address
    tags: list[str] = field(default_factory=list)
    kind: Literal["staff", "guest"] = "guest"
    score: int | float = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Movie(TypedDict):
    title: str
    year: int
    rating: NotRequired[float]
    cast: list[Person]


def test_a_dataclass_is_a_closed_object_whose_fields_without_defaults_are_required() -> None:
    schema = schema_of(Person, "body")
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["name", "born", "address"]
    props = schema["properties"]
    assert props["name"] == {"type": "string", "minLength": 1, "maxLength": 40}
    assert props["born"] == {"type": ["string", "null"], "format": "date"}
    assert props["address"]["required"] == ["street", "zip"] and props["address"]["properties"]["zip"]["pattern"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["kind"] == {"enum": ["staff", "guest"], "type": "string"}
    assert props["score"] == {"type": ["integer", "number"]} and props["extra"] == {"type": "object"}


def test_a_typeddict_is_an_object_whose_required_keys_are_required() -> None:
    schema = schema_of(Movie, "response")
    assert schema["required"] == ["title", "year", "cast"] and "rating" in schema["properties"]
    assert schema["properties"]["cast"]["items"]["properties"]["address"]["type"] == "object"


def test_the_schema_validates_as_the_type_says_and_builds_instances() -> None:
    schema = schema_of(Person, "body")
    good = {"name": "Ann", "born": "1990-04-01", "address": {"street": "Main", "zip": "12345"}, "tags": ["a"]}
    assert validate(schema, good) == []
    ann = build(Person, good)
    assert isinstance(ann, Person) and isinstance(ann.address, Address) and ann.born == dt.date(1990, 4, 1)
    assert ann.kind == "guest" and ann.tags == ["a"]
    assert to_json(ann)["address"] == ann.address and to_json(dt.date(2030, 1, 2)) == "2030-01-02"
    bad = {"name": "", "born": "1990-13-01", "address": {"street": "x", "zip": "1"}, "kind": "boss", "more": 1}
    problems = validate(schema, bad)
    assert {p.split(":")[0] for p in problems} == {"name", "born", "address.zip", "kind", "more"}


@pytest.mark.parametrize("tp", [set[str], dict[str, int], Enum("Color", "RED GREEN"), Address | Person,
                                Annotated[str, "not keywords"], bytes, tuple[int, str], dt.date | int])
def test_what_json_schema_here_cannot_say_is_refused_by_name(tp: Any) -> None:
    holder = make_dataclass("Holder", [("value", tp)])  # the annotation is the type itself, resolved
    with pytest.raises(ConfigError, match=r"body\.value: the type|Annotated takes"):
        schema_of(holder, "body")


def test_optional_enums_constraints_and_scalar_unions() -> None:
    holder = make_dataclass("Holder", [
        ("kind", Literal["a", "b"] | None), ("n", Annotated[int, JsonSchema(minimum=1)] | None),
        ("either", int | str | None)])
    props = schema_of(holder, "body")["properties"]
    assert props["kind"] == {"enum": ["a", "b", None], "type": ["string", "null"]}
    assert props["n"] == {"type": ["integer", "null"], "minimum": 1}
    assert props["either"] == {"type": ["integer", "string", "null"]}
    schema = schema_of(holder, "body")
    assert validate(schema, {"kind": None, "n": None, "either": None}) == []
    assert validate(schema, {"kind": "c", "n": 0, "either": 1.5}) == [
        "kind: must be one of 'a', 'b', None", "n: must be >= 1", "either: must be integer or string or null"]


def test_a_recursive_type_is_refused() -> None:
    with pytest.raises(ConfigError, match="contains itself"):
        schema_of(Node, "body")


@dataclass
class Node:
    children: list[Node]
