import pytest

from stratus import App, PasswordPolicy
from stratus.errors import ConfigError

_names = iter(range(10**6))


def _h(req, ctx):  # type: ignore[no-untyped-def]
    return {}


def h():  # type: ignore[no-untyped-def]
    """A handler of its own (each route has one)."""
    def handler(req, ctx):  # type: ignore[no-untyped-def]
        return {}
    handler.__name__ = f"h{next(_names)}"
    return handler


def test_declaring_builds_plain_data() -> None:
    app = App("shop")
    pool = app.user_pool("users")
    orders = app.table("orders", partition_key="customer", sort_key=("placed", int), stream=True)
    api = app.rest_api("api", authorizer=pool)
    api.get("/orders/{id}", uses=[orders])(_h)
    api.get("/orders", public=True)(h())
    assert list(app.resources) == ["user_pool:users", "table:orders", "rest_api:api"]
    assert orders.sort_key is not None and orders.sort_key.dynamo_type == "N"
    assert orders.key_of({"customer": "c", "placed": 3, "x": 1}) == {"customer": "c", "placed": 3}
    route = api.routes[0]
    assert (route.method, route.params, route.uses, route.operation_id) == ("GET", ["id"], (orders,), "_h")


@pytest.mark.parametrize("declare, message", [
    (lambda a: a.table("Bad_Name", partition_key="k"), "table name"),
    (lambda a: a.table("t", partition_key=("k", float)), "must be str or int"),
    (lambda a: a.user_pool("p", access_token_ttl=60), "5 minutes to 1 day"),
    (lambda a: a.rest_api("api", max_body=20 * 1024 * 1024), "10 MiB"),
    (lambda a: a.rest_api("api").get("/x")(_h), r"has no authorizer .*public=True, or give the API a user pool"),
    (lambda a: a.rest_api("api").get("x", public=True)(_h), "bad path"),
    (lambda a: a.rest_api("api").get("/a/{p+}/b", public=True)(_h), "greedy"),
    (lambda a: a.rest_api("api").get("/a/{p}/{p}", public=True)(_h), "repeats"),
    (lambda a: a.rest_api("api").get("/a/x{p}", public=True)(_h), "whole {param}"),
    (lambda a: a.rest_api("api").route("TRACE", "/a", public=True)(_h), "unsupported method"),
    (lambda a: a.rest_api("api").post("/a", public=True, body={"type": "object", "anyOf": []})(_h), "anyOf"),
    (lambda a: a.rest_api("api").get("/a", public=True, query={"q": {"type": "array"}})(_h), "scalars"),
])
def test_bad_declarations_fail_loudly(declare, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        declare(App("x"))


def test_clashing_routes_and_duplicates() -> None:
    app = App("x")
    api = app.rest_api("api")
    api.get("/a/{id}", public=True)(h())
    with pytest.raises(ConfigError, match="clashes"):
        api.get("/a/{other}", public=True)(h())
    api.post("/a/{other}", public=True)(h())  # another method is fine
    with pytest.raises(ConfigError, match="declared twice"):
        app.rest_api("api")


def test_password_policy() -> None:
    p = PasswordPolicy()
    assert p.problems("Passw0rdX") == []
    assert p.problems("pass") == ["Password not long enough (minimum 8)", "Password must have uppercase characters",
                                  "Password must have numeric characters"]
    assert PasswordPolicy(require_symbols=True).problems("Passw0rdX") == ["Password must have symbol characters"]


def test_app_names() -> None:
    with pytest.raises(ConfigError):
        App("")
    assert App("todo").name == "todo"


def test_cache_and_throttle_declarations() -> None:
    from stratus import ApiCache, TableCache, Throttle
    for bad in (lambda: ApiCache(ttl=3601), lambda: ApiCache(ttl=-1), lambda: ApiCache(unauthorized_refresh="x"),
                lambda: TableCache(item_ttl=0), lambda: TableCache(max_bytes=10), lambda: Throttle(rate=0),
                lambda: Throttle(burst=0)):
        with pytest.raises(ConfigError):
            bad()
    assert (ApiCache().ttl, Throttle().rate, Throttle().burst) == (300, 10_000, 5_000)
    assert (TableCache().item_ttl, TableCache().query_ttl) == (300, 300)
    app = App("x")
    plain = app.rest_api("plain", authorizer=app.user_pool("p"))
    with pytest.raises(ConfigError, match="declare cache=ApiCache"):
        plain.get("/a", cache=True)(_h)
    cached = app.rest_api("cached", authorizer=app.user_pool("q"), cache=ApiCache(ttl=0))
    with pytest.raises(ConfigError, match="0-3600"):
        cached.get("/a", cache_ttl=4000)(_h)
    with pytest.raises(ConfigError, match="parameters this route lacks"):
        cached.post("/a", invalidates=["/b/{id}"])(_h)


def test_ttl_zero_turns_the_cache_off() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from stratus import ApiCache, Context
    from stratus.clock import ManualClock
    from stratus.local.services.apigateway.gateway import Gateway
    app = App("x")
    api = app.rest_api("api", cache=ApiCache(ttl=0))
    api.get("/a", public=True)(h())
    api.get("/b", public=True, cache_ttl=30)(h())
    gw = Gateway("x", api, {r: Context("x", "h", {}) for r in api.routes}, None, frozenset(),
                 ThreadPoolExecutor(1), "https://h", ManualClock())
    assert {r.path: c.cache_ttl for r, c in gw.routes.by_template.values()} == {"/a": 0, "/b": 30}


def test_a_handler_serves_one_route() -> None:
    """On AWS each route is a function of its own: a handler declared twice is refused when declared, not at synth."""
    app = App("x")
    users = app.user_pool("users")
    api, other = app.rest_api("api", authorizer=users), app.rest_api("other", authorizer=users)
    handler = h()
    api.get("/a")(handler)
    with pytest.raises(ConfigError, match=r"already handles GET /a \(api 'api'\)"):
        api.post("/a")(handler)
    with pytest.raises(ConfigError, match="already handles GET /a"):
        other.get("/b")(handler)  # across the app's APIs too
    twin = h()
    twin.__name__ = handler.__name__
    with pytest.raises(ConfigError, match="two handlers are named"):
        api.get("/c")(twin)  # another function of the same name: the same operation id and function name
    other.get("/c")(twin)  # in another API it is its own function


def test_a_public_route_cannot_take_a_signed_in_request() -> None:
    from stratus import AuthRequest, Context, Request
    app = App("x")
    api = app.rest_api("api", authorizer=app.user_pool("users"))

    def mine(req: AuthRequest, ctx: Context) -> None:
        return None

    def anyone(req: Request, ctx: Context) -> None:
        return None
    with pytest.raises(ConfigError, match="takes an AuthRequest, but the route is public"):
        api.get("/mine", public=True)(mine)
    api.get("/mine")(mine)
    api.get("/anyone", public=True)(anyone)


def test_typed_bodies_and_documented_responses() -> None:
    from dataclasses import dataclass
    from typing import TypedDict

    @dataclass
    class In:
        title: str
        done: bool = False

    class Out(TypedDict):
        id: str

    app = App("x")
    api = app.rest_api("api")
    api.post("/a", public=True, body=In, response=Out, responses={409: "exists", 202: "queued"})(h())
    route = api.routes[0]
    assert route.body_type is In and route.body == {"type": "object", "additionalProperties": False,
                                                   "properties": {"title": {"type": "string"},
                                                                  "done": {"type": "boolean"}},
                                                   "required": ["title"]}
    assert route.response == {"type": "object", "additionalProperties": False, "required": ["id"],
                              "properties": {"id": {"type": "string"}}}
    from stratus.openapi import openapi_document
    doc = openapi_document(api, "https://h")["paths"]["/a"]["post"]
    assert doc["requestBody"]["content"]["application/json"]["schema"] == route.body
    assert doc["responses"]["200"]["content"]["application/json"]["schema"] == route.response
    assert doc["responses"]["409"]["description"] == "exists" and doc["responses"]["202"] == {"description": "queued"}
    for bad in ({"responses": {"409": "x"}}, {"body": list}, {"response": 3}):
        with pytest.raises(ConfigError):
            api.post("/b", public=True, **bad)(h())  # type: ignore[arg-type]


def test_an_email_sender_is_a_plain_address() -> None:
    app = App("x")
    assert app.email("welcome", sender="hello@example.com").sender == "hello@example.com"
    for bad in ("Hello <hello@example.com>", "hello@example.com\n", "nobody"):
        with pytest.raises(ConfigError, match="plain email address"):
            App("y").email("welcome", sender=bad)


@pytest.mark.parametrize("url,ok", [
    ("https://app.example/cb", True), ("http://localhost:3000/cb", True), ("myapp://callback", True),
    ("com.example.app:/oauth", True), ("http://127.0.0.1:3000/cb", False), ("http://app.example/cb", False),
    ("https://app.example/cb#frag", False), ("javascript:alert(1)", False), ("data:text/html,x", False),
    ("/relative/cb", False), ("https://", False)])
def test_redirect_urls_are_cognitos(url: str, ok: bool) -> None:
    """https, http on localhost only, or an app's own scheme; never a fragment or a scheme a browser runs."""
    from stratus import HostedSignIn
    if ok:
        HostedSignIn("my-app", callback_urls=(url,))
    else:
        with pytest.raises(ConfigError, match="redirect URL"):
            HostedSignIn("my-app", callback_urls=(url,))


def test_user_pool_groups_scopes_and_machine_clients_are_checked_when_declared() -> None:
    from stratus import HostedSignIn
    app = App("pools")
    with pytest.raises(ConfigError, match="group name 'ops,admins'"):  # API Gateway joins groups with commas
        app.user_pool("a", groups=("admins", "ops,admins"))
    with pytest.raises(ConfigError, match="declare hosted=HostedSignIn"):
        app.user_pool("b", resource_servers={"orders": ("read",)}, machine_clients={"batch": ("orders/read",)})
    with pytest.raises(ConfigError, match="no resource server declares"):
        app.user_pool("c", hosted=HostedSignIn("c-app", callback_urls=("https://x.example/cb",)),
                      machine_clients={"batch": ("orders/read",)})
    with pytest.raises(ConfigError, match="mfa must be one of"):
        app.user_pool("d", mfa="sms")
    with pytest.raises(ConfigError, match="domain"):
        HostedSignIn("my-cognito-app", callback_urls=("https://x.example/cb",))
    pool = app.user_pool("e", groups=("authors",), resource_servers={"orders": ("read",)})
    api = app.rest_api("api", authorizer=pool)
    with pytest.raises(ConfigError, match="requires_group='editors'"):
        api.get("/x", requires_group="editors")
    with pytest.raises(ConfigError, match="scope 'orders/write'"):
        api.get("/y", scopes=("orders/write",))
    with pytest.raises(ConfigError, match="public route admits anyone"):
        api.get("/z", public=True, requires_group="authors")


def test_a_table_trigger_is_checked_when_declared() -> None:
    app = App("events")
    plain = app.table("plain", partition_key="id")
    streamed = app.table("streamed", partition_key="id", stream=True)

    def on_change(change: object, ctx: object) -> None: ...
    with pytest.raises(ConfigError, match="has no stream"):
        app.on_table_change(plain)(on_change)
    with pytest.raises(ConfigError, match="kinds must be some of"):
        app.on_table_change(streamed, kinds={"UPSERT"})(on_change)
    with pytest.raises(ConfigError, match="timeout"):
        app.on_table_change(streamed, timeout=0)(on_change)
    with pytest.raises(ConfigError, match="named function"):
        app.on_table_change(streamed)(lambda change, ctx: None)
    app.on_table_change(streamed, kinds={"INSERT"})(on_change)
    assert app.resource("table_trigger", "on-change") is not None  # named by its handler, - for _
    with pytest.raises(ConfigError, match="declared twice"):
        app.on_table_change(streamed)(on_change)
