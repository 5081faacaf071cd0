"""docs/reference.md cannot drift: it is what docs/make_reference.py makes from the code, every option of every
declaration and port is named in its docstring, and every name apps import is in it."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import sys
from types import ModuleType
from typing import Any

import pytest

import stratus
from stratus import App, IdentityPool, RestApi, Table, UserPool
from stratus.graph import Route
from tests.conftest import ROOT


def _maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_reference", ROOT / "docs" / "make_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


ref = _maker()


def test_the_reference_is_what_the_code_makes() -> None:
    assert (ROOT / "docs" / "reference.md").read_text() == ref.make(), \
        "docs/reference.md is stale: run .venv/bin/python docs/make_reference.py"


def test_every_option_is_documented() -> None:
    assert [p for e in ref.entries() for p in ref.undocumented(e)] == []


def test_an_undocumented_option_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def declare(name: str, *, size: int = 1, colour: str = "") -> None:
        """Declare a thing.

        - ``name``: its name.
        - ``size``: how big.
        """

    def sloppy(name: str, **kw: Any) -> None:
        """Declare a thing named ``name``."""

    @dataclasses.dataclass(frozen=True)
    class Options:
        """Options.

        - ``ttl``: seconds.
        """

        ttl: int = 1
        limit: int = 2

    entry = ref.Entry("declare", declare, "declare")
    assert ref.undocumented(entry) == ["declare: option 'colour' is not named in its docstring (as ``colour``)"]
    assert ref.undocumented(ref.Entry("sloppy", sloppy, "sloppy")) == [
        "sloppy: takes **kw; list its options in its signature"]
    assert ref.undocumented(ref.Entry("Options", Options, "Options")) == [
        "Options: option 'limit' is not named in its docstring (as ``limit``)"]
    assert ref.undocumented(ref.Entry("bare", lambda: None)) == ["bare: no docstring"]
    monkeypatch.setattr(ref, "SECTIONS", (*ref.SECTIONS, ref.Section("More", "", (entry,))))
    with pytest.raises(ValueError, match="colour"):
        ref.make()


def test_every_name_apps_import_is_in_the_reference() -> None:
    listed = {e.obj for e in ref.entries()}
    for name in stratus.__all__:
        obj = getattr(stratus, name)
        assert obj in listed or isinstance(obj, type) and issubclass(obj, stratus.StratusError), \
            f"{name} is not in docs/reference.md"


def _public_members(cls: type) -> dict[str, Any]:
    """The methods and properties of ``cls`` (its own and inherited from the project's classes) by qualified name,
    with what ``getattr`` gives for each."""
    out = {}
    for name in dir(cls):
        static = inspect.getattr_static(cls, name)
        if name.startswith("_") or not (inspect.isfunction(static) or isinstance(static, (classmethod, property))):
            continue
        function: Any = static.fget if isinstance(static, property) else getattr(static, "__func__", static)
        if function.__module__.startswith("stratus."):
            out[function.__qualname__] = getattr(cls, name)
    return out


def test_every_public_member_of_a_listed_class_is_documented_or_left_to_the_platform() -> None:
    documented = [e.obj for e in ref.entries()]
    for cls in [e.obj for e in ref.entries() if isinstance(e.obj, type)]:
        for qualname, member in _public_members(cls).items():
            assert member in documented or qualname in ref.PLATFORM_ONLY, \
                f"{qualname} is public but neither in docs/reference.md nor left to the platform"


@pytest.mark.parametrize("declare, resource, internal", [
    (App.user_pool, UserPool, ()),
    (App.table, Table, ()),
    (App.rest_api, RestApi, ("routes", "handlers")),
    (App.identity_pool, IdentityPool, ()),
    (App.bucket, stratus.Bucket, ()),
    (App.email, stratus.Email, ()),
])
def test_each_declaration_takes_every_field_of_its_resource(declare: Any, resource: type, internal: tuple[str, ...]
                                                            ) -> None:
    params = {p.name: p for p in ref.parameters(declare)}
    fields = {f.name: f for f in dataclasses.fields(resource) if f.name not in internal}
    assert list(params) == list(fields), f"{declare.__qualname__} and {resource.__name__} differ"
    for name, f in fields.items():
        if f.default is not dataclasses.MISSING:  # a default made per instance is None in the declaration
            assert params[name].default == f.default, name


def _handler(name: str) -> Any:
    def handler(req: Any, ctx: Any) -> None:
        """A handler."""
    handler.__name__ = name
    return handler


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_the_route_shortcuts_take_every_option_of_route_with_its_defaults(method: str) -> None:
    assert ref.same_options(getattr(RestApi, method), RestApi.route) == []
    options: dict[str, Any] = {
        "public": False, "body": {"type": "object"}, "query": {"q": {"type": "integer"}}, "status": 202,
        "summary": "s", "cache": True, "cache_ttl": 60, "throttle": stratus.Throttle(rate=5, burst=2),
        "invalidates": ["/x/{id}"], "response": {"type": "object"}, "responses": {409: "taken"}}
    routes: list[Route] = []
    for declare in (lambda api, t: getattr(api, method)("/x/{id}", uses=[t], **options),
                    lambda api, t: api.route(method.upper(), "/x/{id}", uses=[t], **options),
                    lambda api, t: getattr(api, method)("/x/{id}", public=True),
                    lambda api, t: api.route(method.upper(), "/x/{id}", public=True)):
        app = App("a")
        api = app.rest_api("api", authorizer=app.user_pool("u"), cache=stratus.ApiCache())
        declare(api, app.table("t", partition_key="k"))(_handler("h"))
        routes.append(api.routes[0])

    def shape(route: Route) -> dict[str, Any]:
        return {k: v for k, v in vars(route).items() if k not in ("handler", "uses")} | {
            "uses": [r.name for r in route.uses]}

    assert shape(routes[0]) == shape(routes[1]) and shape(routes[2]) == shape(routes[3])
