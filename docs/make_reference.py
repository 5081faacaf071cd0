"""Makes docs/reference.md from the signatures and docstrings of what apps use.

    .venv/bin/python docs/make_reference.py     # rewrites docs/reference.md

Every option must be documented where it is declared: each parameter of a listed function, and each field
of a listed option or event class, is named in its docstring in double backquotes (````name````), or ``make``
refuses to write the page. tests/unit/test_reference.py fails when docs/reference.md differs from what
this makes, and when a name apps import, or a public method of a listed class, is missing here.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stratus
from stratus import (
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    AllExcept,
    ApiCache,
    ApiOrigin,
    App,
    AuthRequest,
    Behavior,
    Bucket,
    BucketOrigin,
    CachePolicy,
    Context,
    Distribution,
    Email,
    ErrorResponse,
    HostedSignIn,
    HttpError,
    HttpOrigin,
    IdentityPool,
    JsonSchema,
    KeyAttr,
    KeyCondition,
    Mail,
    Mailer,
    ObjectCreated,
    ObjectInfo,
    ObjectPage,
    ObjectRemoved,
    ObjectStorePort,
    Page,
    PasswordPolicy,
    PresignedPost,
    Principal,
    Request,
    Response,
    RestApi,
    StoredObject,
    StratusError,
    StreamingResponse,
    Table,
    TableCache,
    TableChange,
    TablePort,
    Throttle,
    UserPool,
    idempotent,
)
from stratus.graph import api as _api
from stratus.ports import table as _table

OUT = Path(__file__).resolve().parent / "reference.md"
WIDTH = 100  # a signature longer than this is shown one parameter a line


@dataclass(frozen=True)
class Entry:
    """One documented thing: a function or method, a class, or a property."""

    title: str                       # the heading: how an app reaches it ("app.table", "TablePort.query")
    obj: Any                         # the function, class or property
    call: str | None = None          # the name its signature is shown with; None: no signature
    options: bool = True             # its parameters (a class: its own fields) must each be documented
    same_as: Callable[..., Any] | None = None  # its options are this function's, documented there

    @property
    def doc(self) -> str:
        return own_doc(self.obj)


@dataclass(frozen=True)
class Section:
    title: str
    intro: str
    entries: tuple[Entry, ...]


def own_doc(obj: Any) -> str:
    """The docstring written for ``obj`` (a dataclass's made-up one does not count), dedented; "" if none."""
    target = obj.fget if isinstance(obj, property) else obj
    if isinstance(target, type):
        doc = vars(target).get("__doc__") or ""
        if dataclasses.is_dataclass(target) and doc.startswith(f"{target.__name__}("):
            return ""
    else:
        doc = target.__doc__ or ""
    return inspect.cleandoc(doc)


def _shortcut(method: str) -> Entry:
    return Entry(f"api.{method}", getattr(RestApi, method), f"api.{method}", same_as=RestApi.route)


SECTIONS: tuple[Section, ...] = (
    Section("Declarations", "What `app.py` declares, at import time. Declaring does no I/O; a declaration a "
            "provider cannot honour stops `stratus up` or `stratus synth` with an error naming it, before anything "
            "runs. Each `app.<kind>(...)` returns the resource, which routes name in `uses=[...]`.", (
                Entry("App", App, "App"),
                Entry("app.user_pool", App.user_pool, "app.user_pool"),
                Entry("app.table", App.table, "app.table"),
                Entry("app.bucket", App.bucket, "app.bucket"),
                Entry("app.rest_api", App.rest_api, "app.rest_api"),
                Entry("app.identity_pool", App.identity_pool, "app.identity_pool"),
                Entry("app.email", App.email, "app.email"),
                Entry("app.distribution", App.distribution, "app.distribution"),
                Entry("app.deploy_folder", App.deploy_folder, "app.deploy_folder"),
                Entry("app.on_table_change", App.on_table_change, "app.on_table_change"),
                Entry("app.on_object_created", App.on_object_created, "app.on_object_created"),
                Entry("app.on_object_removed", App.on_object_removed, "app.on_object_removed"),
                Entry("api.route", RestApi.route, "api.route"),
                *(_shortcut(m) for m in ("get", "post", "put", "patch", "delete")),
            )),
    Section("Options", "Values the declarations take. Each is a frozen dataclass; its fields are its options.", (
        Entry("PasswordPolicy", PasswordPolicy, "PasswordPolicy"),
        Entry("HostedSignIn", HostedSignIn, "HostedSignIn"),
        Entry("KeyAttr", KeyAttr, "KeyAttr"),
        Entry("TableCache", TableCache, "TableCache"),
        Entry("ApiCache", ApiCache, "ApiCache"),
        Entry("Throttle", Throttle, "Throttle"),
        Entry("Behavior", Behavior, "Behavior"),
        Entry("CachePolicy", CachePolicy, "CachePolicy"),
        Entry("CACHING_OPTIMIZED", CACHING_OPTIMIZED, options=False),
        Entry("CACHING_DISABLED", CACHING_DISABLED, options=False),
        Entry("AllExcept", AllExcept, "AllExcept"),
        Entry("BucketOrigin", BucketOrigin, "BucketOrigin"),
        Entry("ApiOrigin", ApiOrigin, "ApiOrigin"),
        Entry("HttpOrigin", HttpOrigin, "HttpOrigin"),
        Entry("ErrorResponse", ErrorResponse, "ErrorResponse"),
    )),
    Section("Resources", "What the declarations return. Their options are the declaring method's (a test checks "
            "that each `app.<kind>(...)` takes every field of its resource).", (
                Entry("UserPool", UserPool, options=False),
                Entry("Table", Table, options=False),
                Entry("Bucket", Bucket, options=False),
                Entry("bucket.arn", Bucket.arn, "bucket.arn"),
                Entry("IdentityPool", IdentityPool, options=False),
                Entry("Email", Email, options=False),
                Entry("RestApi", RestApi, options=False),
                Entry("Distribution", Distribution, options=False),
            )),
    Section("In a handler: `ctx`", "A handler is `handler(req, ctx)`: `req` is a `Request` (an `AuthRequest` on a "
            "route that is not public), `ctx` a `Context`.", (
                Entry("Context", Context, options=False),
                Entry("ctx.use", Context.use, "ctx.use"),
                Entry("ctx.table", Context.table, "ctx.table"),
                Entry("ctx.bucket", Context.bucket, "ctx.bucket"),
                Entry("ctx.mailer", Context.mailer, "ctx.mailer"),
                Entry("ctx.now", Context.now, "ctx.now"),
            )),
    Section("Tables: `TablePort`", "`ctx.table(table)`. Items are dicts of JSON-like values; every provider checks "
            "them the same way, and raises `ConditionFailed`, `InvalidItem`, `InvalidToken`, or `ServiceError` "
            "(with DynamoDB's code) for anything else the service refuses.", (
                Entry("TablePort", TablePort, options=False),
                Entry("TablePort.get", TablePort.get, "table.get"),
                Entry("TablePort.batch_get", TablePort.batch_get, "table.batch_get"),
                Entry("TablePort.put", TablePort.put, "table.put"),
                Entry("TablePort.update", TablePort.update, "table.update"),
                Entry("TablePort.delete", TablePort.delete, "table.delete"),
                Entry("TablePort.query", TablePort.query, "table.query"),
                Entry("KeyCondition", KeyCondition, "KeyCondition"),
                *(Entry(f"KeyCondition.{op}", getattr(KeyCondition, op), f"KeyCondition.{op}")
                  for op in ("eq", "lt", "le", "gt", "ge", "between", "begins_with")),
                Entry("Page", Page, "Page"),
            )),
    Section("Buckets: `ObjectStorePort`", "`ctx.bucket(bucket)`. Objects are read and written whole; a missing "
            "object reads as None. Keys and arguments are checked alike everywhere (`InvalidItem`); anything else "
            "the service refuses is a `ServiceError` with S3's code.", (
                Entry("ObjectStorePort", ObjectStorePort, options=False),
                Entry("ObjectStorePort.put", ObjectStorePort.put, "bucket.put"),
                Entry("ObjectStorePort.get", ObjectStorePort.get, "bucket.get"),
                Entry("ObjectStorePort.head", ObjectStorePort.head, "bucket.head"),
                Entry("ObjectStorePort.delete", ObjectStorePort.delete, "bucket.delete"),
                Entry("ObjectStorePort.list", ObjectStorePort.list, "bucket.list"),
                Entry("ObjectStorePort.presigned_post", ObjectStorePort.presigned_post, "bucket.presigned_post"),
                Entry("PresignedPost", PresignedPost, "PresignedPost"),
                Entry("ObjectInfo", ObjectInfo, "ObjectInfo"),
                Entry("StoredObject", StoredObject, "StoredObject"),
                Entry("ObjectPage", ObjectPage, "ObjectPage"),
            )),
    Section("Email: `Mailer`", "`ctx.mailer` (or `ctx.use(email)`), for a declared `Email`.", (
        Entry("Mailer", Mailer, options=False),
        Entry("Mailer.send", Mailer.send, "mailer.send"),
        Entry("Mail", Mail, "Mail"),
    )),
    Section("Requests and answers", "What a handler gets and may return.", (
        Entry("Request", Request),
        Entry("AuthRequest", AuthRequest),
        Entry("Principal", Principal),
        Entry("Response", Response, "Response"),
        Entry("StreamingResponse", StreamingResponse, "StreamingResponse"),
        Entry("JsonSchema", JsonSchema, options=False),
    )),
    Section("Events", "What a trigger's handler gets: `handler(event, ctx)`, with the `ctx` of what it uses.", (
        Entry("TableChange", TableChange),
        Entry("ObjectCreated", ObjectCreated),
        Entry("ObjectRemoved", ObjectRemoved),
        Entry("idempotent", idempotent, "idempotent"),
    )),
)

# public methods and properties of the listed classes that the platform uses and apps do not, by qualified name:
# left out on purpose
PLATFORM_ONLY = frozenset({
    "App.add", "App.of_kind", "App.resource", "Resource.endpoints_first", "UserPool.endpoints_first",
    "IdentityPool.endpoints_first", "RestApi.endpoints_first", "RestApi.cache_ttl_of", "Table.key_names",
    "Table.key_of", "Table.home_region", "App.regions", "KeyAttr.dynamo_type", "PasswordPolicy.problems",
    "UserPool.custom_scopes",
    "Route.accepted_scopes", "Mailer.with_sender", "TablePort.key_item",
    "TablePort.page", "CachePolicy.caching", "Distribution.all_behaviors", "Distribution.origins",
})

# the type names signatures use, as they are defined
ALIASES = {"Shape": _api.Shape, "Handler": _api.Handler, "Item": _table.Item}


def entries() -> list[Entry]:
    return [e for s in SECTIONS for e in s.entries]


def parameters(obj: Any) -> list[inspect.Parameter]:
    """The parameters an app passes: a function's, without ``self``; a class's constructor's."""
    params = list(inspect.signature(obj).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return params


def own_fields(cls: type) -> list[str]:
    """The fields a dataclass declares itself (a subclass's others are its base's, documented there)."""
    own = vars(cls).get("__annotations__", {})
    return [f.name for f in dataclasses.fields(cls) if f.name in own]


def undocumented(entry: Entry) -> list[str]:
    """What ``entry`` leaves out: a missing docstring, a ``**kw`` in place of options, an option its docstring
    does not name; empty when it is complete."""
    doc = entry.doc
    if not doc:
        return [f"{entry.title}: no docstring"]
    if not entry.options:
        return []
    obj = entry.obj
    if isinstance(obj, type) and dataclasses.is_dataclass(obj):
        names = own_fields(obj)
    elif isinstance(obj, type):
        names = [p.name for p in parameters(obj)]
    elif isinstance(obj, property):
        return []
    else:
        params = parameters(obj)
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return [f"{entry.title}: takes **kw; list its options in its signature"]
        if entry.same_as is not None:
            return [f"{entry.title}: {m}" for m in same_options(obj, entry.same_as)]
        names = [p.name for p in params]
    return [f"{entry.title}: option {n!r} is not named in its docstring (as ``{n}``)"
            for n in names if f"``{n}``" not in doc]


def same_options(fn: Callable[..., Any], target: Callable[..., Any]) -> list[str]:
    """How ``fn``'s keyword options differ from ``target``'s (name, annotation, default): empty if they agree."""
    def keywords(f: Callable[..., Any]) -> dict[str, tuple[Any, Any]]:
        return {p.name: (p.annotation, p.default) for p in parameters(f) if p.kind is p.KEYWORD_ONLY}
    mine, theirs = keywords(fn), keywords(target)
    out = [f"lacks option {n!r} of {target.__qualname__}" for n in theirs if n not in mine]
    out += [f"option {n!r} is not {target.__qualname__}'s" for n in mine if n not in theirs]
    out += [f"option {n!r} differs from {target.__qualname__}'s: {mine[n]} != {theirs[n]}"
            for n in mine if n in theirs and mine[n] != theirs[n]]
    return out


def _annotation(ann: Any) -> str:
    text = ann if isinstance(ann, str) else inspect.formatannotation(ann)
    return text.replace("typing.", "").replace("collections.abc.", "")


def _default(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else repr(value)


def _param(p: inspect.Parameter, factories: dict[str, Any], annotate: bool = True) -> str:
    text = p.name if p.annotation is p.empty or not annotate else f"{p.name}: {_annotation(p.annotation)}"
    default = factories[p.name]() if p.name in factories else p.default
    if default is not p.empty:
        text += f" = {_default(default)}" if annotate else f"={_default(default)}"
    return text


def _factories(obj: Any) -> dict[str, Any]:
    """A dataclass's fields whose default is made per instance (shown as what they make)."""
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        return {}
    return {f.name: f.default_factory for f in dataclasses.fields(obj) if f.default_factory is not dataclasses.MISSING}


def signature(entry: Entry) -> str:
    """``entry``'s call as an app writes it, with annotations and defaults: one line, or one parameter a line.

    A shortcut whose options are another entry's shows them by name and default, as many a line as fit."""
    obj = entry.obj
    if isinstance(obj, property):
        return f"{entry.call}{_property_type(obj)}"
    parts: list[str] = []
    star = False
    factories = _factories(obj)
    for p in parameters(obj):
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        parts.append(_param(p, factories, annotate=entry.same_as is None or p.kind is not p.KEYWORD_ONLY))
    ret = "" if isinstance(obj, type) else inspect.signature(obj).return_annotation
    tail = "" if ret in ("", inspect.Signature.empty) else f" -> {_annotation(ret)}"
    line = f"{entry.call}({', '.join(parts)}){tail}"
    if len(line) <= WIDTH:
        return line
    if entry.same_as is None:
        return f"{entry.call}(\n" + "".join(f"    {part},\n" for part in parts) + f"){tail}"
    lines, current = [], ""
    for part in parts:
        if current and len(current) + len(part) + 6 > WIDTH:
            lines.append(current)
            current = ""
        current += f"{part}, "
    lines.append(current)
    return f"{entry.call}(\n" + "".join(f"    {text.rstrip()}\n" for text in lines) + f"){tail}"


def _errors() -> str:
    """The errors apps import, with the status an ``HttpError`` answers."""
    rows = ["| error | status | meaning |", "|---|---|---|"]
    for name in stratus.__all__:
        cls = getattr(stratus, name)
        if not (isinstance(cls, type) and issubclass(cls, StratusError)):
            continue
        status = str(cls.status) if issubclass(cls, HttpError) else ""
        doc = own_doc(cls).split("\n\n")[0].replace("\n", " ")
        if not doc and issubclass(cls, HttpError):
            doc = f"raise it to answer {cls.status} with its message"
        rows.append(f"| `{name}` | {status} | {doc} |")
    return "\n".join(rows)


def _property_type(prop: property) -> str:
    ret = inspect.signature(prop.fget).return_annotation  # type: ignore[arg-type]
    return "" if ret is inspect.Signature.empty else f": {_annotation(ret)}"


def render_entry(entry: Entry) -> str:
    out = [f"### `{entry.title}`", ""]
    if entry.call is not None:
        out += ["```python", signature(entry), "```", ""]
    out.append(entry.doc)
    if entry.same_as is not None:
        target = next(e.title for e in entries() if e.obj is entry.same_as)
        missing = [p.name for p in parameters(entry.same_as) if p.kind is not p.KEYWORD_ONLY
                   and p.name not in inspect.signature(entry.obj).parameters]
        anchor = re.sub(r"[^a-z0-9_ -]", "", target.lower()).replace(" ", "-")
        out += ["", f"Options: as [`{target}`](#{anchor})" + "".join(f", without `{n}`" for n in missing) + "."]
    return "\n".join(out)


def make() -> str:
    """The text of docs/reference.md; ``ValueError`` listing what is undocumented, if anything is."""
    problems = [p for e in entries() for p in undocumented(e)]
    if problems:
        raise ValueError("undocumented:\n  " + "\n  ".join(problems))
    parts = [
        "# Reference",
        "",
        "<!-- made by docs/make_reference.py from the code's signatures and docstrings: edit those, then run "
        "`.venv/bin/python docs/make_reference.py`; tests/unit/test_reference.py fails if this file differs -->",
        "",
        "Everything an app imports from `stratus`, with its options: what each does, its default, and what it "
        "becomes on AWS. [guide.md](guide.md) shows them at work.",
        "",
        "Type names in signatures: " + "; ".join(
            f"`{k}` is `{_annotation(v)}`" for k, v in ALIASES.items()) + ".",
        "",
    ]
    for section in SECTIONS:
        parts += [f"## {section.title}", "", section.intro, ""]
        for entry in section.entries:
            parts += [render_entry(entry), ""]
    parts += ["## Errors", "",
              "Raise an `HttpError` to answer its status with `{\"message\": ...}`; the ports raise the others. "
              "`ConditionFailed` is answered 409 and `InvalidItem`/`InvalidToken` 400 when a handler lets them "
              "through; any other exception is logged and answered with a bare 500.", "", _errors(), ""]
    text = "\n".join(parts)
    return re.sub(r"\n{3,}", "\n\n", text)


def main() -> int:
    OUT.write_text(make())
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

