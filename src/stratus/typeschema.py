"""JSON Schema from Python types: route bodies and responses declared as dataclasses or TypedDicts.

A route may declare its body (and its response) as a type instead of a schema dict. The type is
turned into the same JSON Schema subset ``stratus.schema`` validates, once, when the route is
declared, so a type and the equivalent dict behave alike everywhere (validation, OpenAPI, AWS).
A dataclass body is then handed to the handler as an instance (``req.data``), built from the
validated JSON; a TypedDict body stays the validated dict.

What a type may hold:

    str, int, float, bool, None        string, integer, number, boolean, null
    datetime.date, datetime.datetime   strings of format date / date-time (built as date, datetime)
    list[T], tuple[T, ...]             arrays of T
    dict[str, Any]                     any JSON object
    Any                                anything
    Literal["a", "b"]                  an enum
    T | None, Optional[T]              T or null
    int | str (scalars only)           either type
    a dataclass, a TypedDict           an object: its fields, those without a default required, no others
    Annotated[T, JsonSchema(maxLength=9)]   T's schema with the given keywords added (checked like any schema);
                                       a plain dict works too, except inside ``| None`` (Python cannot hash it)

Anything else (an Enum, a union of two object types, ``dict[str, int]``, ...) is refused with a
``ConfigError`` naming it, never approximated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from typing import Any, Literal, Union

from .errors import ConfigError
from .schema import check_schema

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"}, bool: {"type": "boolean"},
    type(None): {"type": "null"}, dt.date: {"type": "string", "format": "date"},
    dt.datetime: {"type": "string", "format": "date-time"},
}


class JsonSchema:
    """JSON Schema keywords for ``Annotated[T, JsonSchema(minLength=1)]``: hashable, so ``Annotated[...] | None`` works."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonSchema) and other.keywords == self.keywords

    def __hash__(self) -> int:
        return hash(repr(sorted(self.keywords.items())))

    def __repr__(self) -> str:
        return f"JsonSchema({', '.join(f'{k}={v!r}' for k, v in self.keywords.items())})"


def is_model(tp: Any) -> bool:
    """Whether ``tp`` is a dataclass or a TypedDict class (a type a body or response may be declared as)."""
    return isinstance(tp, type) and (dataclasses.is_dataclass(tp) or typing.is_typeddict(tp))


def schema_of(tp: Any, where: str) -> dict[str, Any]:
    """The JSON Schema of the type ``tp``; ``ConfigError`` (naming ``where``) for what cannot be expressed."""
    return check_schema(_schema(tp, where, ()), where)


def _hints(cls: type, where: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:  # a forward reference that does not resolve, whatever get_type_hints raises for it
        raise ConfigError(f"{where}: the annotations of {cls.__name__} do not resolve ({exc}); define the types "
                          "it names at module level") from None


def _object(cls: type, where: str, seen: tuple[type, ...]) -> dict[str, Any]:
    if cls in seen:
        raise ConfigError(f"{where}: {cls.__name__} contains itself; recursive types cannot be declared")
    hints = _hints(cls, where)
    if dataclasses.is_dataclass(cls):
        fields = [f for f in dataclasses.fields(cls) if f.init]
        names = [f.name for f in fields]
        required = [f.name for f in fields if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
    else:
        names = list(hints)
        # the hints say it when the class's own record cannot (a module with postponed annotations)
        required = [n for n in names if typing.get_origin(hints[n]) is typing.Required
                    or (n in cls.__required_keys__ and typing.get_origin(hints[n]) is not typing.NotRequired)]  # type: ignore[attr-defined]
    props = {n: _schema(hints[n], f"{where}.{n}", (*seen, cls)) for n in names}
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _scalar(tp: Any) -> dict[str, Any] | None:
    try:
        return _SCALARS.get(tp)
    except TypeError:  # an unhashable annotation (Annotated with a dict) is no scalar
        return None


def _schema(tp: Any, where: str, seen: tuple[type, ...]) -> dict[str, Any]:
    if tp is Any:
        return {}
    scalar = _scalar(tp)
    if scalar is not None:
        return dict(scalar)
    if is_model(tp):
        return _object(tp, where, seen)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Required, typing.NotRequired):  # a TypedDict key's; its class says which are required
        return _schema(args[0], where, seen)
    if origin is typing.Annotated:
        out = _schema(args[0], where, seen)
        for extra in args[1:]:
            if not isinstance(extra, (dict, JsonSchema)):
                raise ConfigError(f"{where}: Annotated takes JSON Schema keywords (JsonSchema(...) or a dict), not "
                                  f"{extra!r}")
            out.update(extra.keywords if isinstance(extra, JsonSchema) else extra)
        return out
    if origin in (list, tuple) and (origin is list or (len(args) == 2 and args[1] is Ellipsis)):
        return {"type": "array", "items": _schema(args[0], f"{where}[]", seen)} if args else {"type": "array"}
    if origin is dict and args in ((str, Any), ()):
        return {"type": "object"}
    if origin is Literal and args and all(type(a) in (str, int, bool) for a in args):
        kinds = {type(a) for a in args}
        enum: dict[str, Any] = {"enum": list(args)}
        if len(kinds) == 1:
            enum["type"] = _SCALARS[kinds.pop()]["type"]
        return enum
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == len(args) - 1 and len(rest) == 1:  # T | None
            out = _schema(rest[0], where, seen)
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
            if "type" in out:
                typ = out["type"]
                out["type"] = [*(typ if isinstance(typ, list) else [typ]), "null"]
            return out  # (Any | None is Any)
        scalars = [_scalar(a) for a in args]
        if all(sc is not None and "format" not in sc for sc in scalars):
            return {"type": [sc["type"] for sc in scalars if sc is not None]}
    raise ConfigError(f"{where}: the type {tp!r} cannot be declared as JSON Schema here "
                      "(see stratus.typeschema for what can)")


def build(tp: Any, value: Any) -> Any:
    """``value`` (JSON already validated against ``schema_of(tp)``) as ``tp``: dataclasses and dates built."""
    if value is None or tp is Any:
        return value
    if tp is dt.date:
        return dt.date.fromisoformat(value)
    if tp is dt.datetime:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        return tp(**{k: build(hints[k], v) for k, v in value.items()})
    if isinstance(tp, type) and typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        return {k: build(hints[k], v) for k, v in value.items()}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Annotated, typing.Required, typing.NotRequired):
        return build(args[0], value)
    if origin in (list, tuple) and args:
        items = [build(args[0], v) for v in value]
        return tuple(items) if origin is tuple else items
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return build(rest[0], value) if len(rest) == 1 else value
    return value


def to_json(value: Any) -> Any:
    """What the standard library's JSON encoder cannot take, as JSON (``default=``): dataclasses, dates."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
