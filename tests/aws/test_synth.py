"""``stratus synth`` on apps/todo and fixture apps, checked with the CDK's assertions on the CloudFormation.

Each app is synthesized once per module (the CDK runs in a Node process jsii starts): the todo app with
and without DAX; ``shop`` (tests/aws/fixtures) for what todo does not declare (a public route, per-route
throttle and TTL, a route opting out of the cache); ``partners`` (tests/aws/fixtures) for a user pool's
groups, MFA, hosted sign-in, resource server and machine client, and routes' scopes; and tests/apps' ``other``,
whose handlers use a bucket. Expectations come from the app graph itself (``RestApi.cache_ttl_of``, the declared
``Throttle``, ``handler_policy``) rather than being copied from the template, so a change on either
side shows up here.

Resources are found by what they are, not by the logical ids the CDK derives: a route's function is
the one its API Gateway method integrates, a declared table is the one with its key schema.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template

import stratus
from stratus.aws.deploy.functions import ENTRY, VPC_ACTIONS
from stratus.aws.deploy.kinds.rest_api import ACCESS_TOKEN_SCOPE
from stratus.aws.deploy.permissions import handler_policy
from stratus.aws.deploy.synth import SynthOptions, SynthResult, synthesize, template_json
from stratus.errors import ConfigError, StratusError, UnsupportedFeature
from stratus.graph import App, Email, Resource, RestApi, Route, Table, Throttle, UserPool
from stratus.loader import load_app
from tests.aws.conftest import APPS
from tests.conftest import TODO

pytestmark = pytest.mark.synth

PARTNERS = Path(__file__).parent / "fixtures" / "partners"  # groups, MFA, hosted sign-in, machine clients, scopes


@dataclass
class Synth:
    """One synthesis: the result, its template as parsed JSON (``doc``) and as a CDK ``Template``, and its graph."""

    result: SynthResult
    doc: dict[str, Any]
    template: Template
    graph: App

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.doc["Resources"].items() if r["Type"] == type_}

    @property
    def api(self) -> RestApi:
        (api,) = self.graph.of_kind(RestApi)
        return api


def synth(app_dir: Path, out: Path, options: SynthOptions | None = None) -> Synth:
    return _read(synthesize(app_dir, out, options), app_dir)


def _read(result: SynthResult, app_dir: Path) -> Synth:
    doc = template_json(result)
    return Synth(result, doc, Template.from_json(doc), load_app(app_dir))


@pytest.fixture(scope="module")
def shared(assemblies: Callable[[str], SynthResult]) -> Callable[[str], Synth]:
    """The session's assembly of a named app (tests/aws/conftest.py), with its template read once per module."""
    read: dict[str, Synth] = {}

    def get(name: str) -> Synth:
        if name not in read:
            read[name] = _read(assemblies(name), APPS[name][0])
        return read[name]
    return get


@pytest.fixture(scope="module")
def todo(shared: Callable[[str], Synth]) -> Synth:
    return shared("todo")


@pytest.fixture(scope="module")
def todo_no_dax(shared: Callable[[str], Synth]) -> Synth:
    return shared("todo-no-dax")


@pytest.fixture(scope="module")
def shop(shared: Callable[[str], Synth]) -> Synth:
    return shared("shop")


@pytest.fixture(scope="module")
def other(shared: Callable[[str], Synth]) -> Synth:
    return shared("other")


@pytest.fixture(scope="module")
def authoring(shared: Callable[[str], Synth]) -> Synth:
    return shared("authoring")


@pytest.fixture(scope="module")
def feed(shared: Callable[[str], Synth]) -> Synth:
    return shared("feed")


@pytest.fixture(scope="module")
def partners(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synth(PARTNERS, tmp_path_factory.mktemp("partners") / "out")


# -- reading the template ------------------------------------------------------------------------

def render(value: Any) -> Any:
    """``value`` with CloudFormation's intrinsics written as plain strings (``ARN<id>``, ``REF<id>``), to compare."""
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return f"REF<{arg}>"
        if fn == "Fn::GetAtt":
            return f"ARN<{arg[0]}>" if arg[1] == "Arn" else f"ATT<{arg[0]}.{arg[1]}>"
        if fn == "Fn::Join":
            return arg[0].join(render(part) for part in arg[1])
    if isinstance(value, dict):
        return {k: render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v) for v in value]
    return value


def methods(s: Synth) -> dict[tuple[str, str], dict[str, Any]]:
    """Each API Gateway method's properties, by (HTTP method, path), the path rebuilt from its resources."""
    resources = s.resources("AWS::ApiGateway::Resource")

    def path_of(ref: Any) -> str:
        if "Fn::GetAtt" in ref:  # the API's root resource
            return ""
        props = resources[ref["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"
    return {(m["Properties"]["HttpMethod"], path_of(m["Properties"]["ResourceId"]) or "/"): m["Properties"]
            for m in s.resources("AWS::ApiGateway::Method").values()}


def function_of(s: Synth, route: Route) -> str:
    """The logical id of the Lambda function API Gateway invokes for ``route``."""
    uri = methods(s)[(route.method, route.path)]["Integration"]["Uri"]["Fn::Join"][1]
    (fn,) = [part["Fn::GetAtt"][0] for part in uri if isinstance(part, dict) and "Fn::GetAtt" in part]
    assert s.resources("AWS::Lambda::Function")[fn]
    return fn


def statements_of_role(s: Synth, role: str) -> list[dict[str, Any]]:
    """Every statement granted to ``role``: its inline policies and each AWS::IAM::Policy attached to it."""
    docs = [p["PolicyDocument"] for p in s.doc["Resources"][role]["Properties"].get("Policies", [])]
    docs += [p["Properties"]["PolicyDocument"] for p in s.resources("AWS::IAM::Policy").values()
             if {"Ref": role} in p["Properties"]["Roles"]]
    return [st for doc in docs for st in doc["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(statements: list[dict[str, Any]]) -> set[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Statements as comparable (effect, actions, resources), intrinsics rendered.

    A set: order does not matter, and a repeated statement grants nothing more (the CDK drops repeats;
    ``handler_policy`` repeats the DAX statement for each cached table a handler uses).
    """
    return {(st["Effect"], tuple(sorted(as_list(st["Action"]))), tuple(sorted(render(as_list(st["Resource"])))))
            for st in statements}


def table_id(s: Synth, table: Table) -> str:
    """The logical id of the DynamoDB table with ``table``'s key schema (one, in the apps here)."""
    keys = [{"AttributeName": table.partition_key.name, "KeyType": "HASH"}]
    if table.sort_key is not None:
        keys.append({"AttributeName": table.sort_key.name, "KeyType": "RANGE"})
    (found,) = [k for k, r in s.resources("AWS::DynamoDB::Table").items() if r["Properties"]["KeySchema"] == keys]
    return found


def only(s: Synth, type_: str) -> str:
    (found,) = s.resources(type_)
    return found


def arn_of(s: Synth) -> Callable[[Resource], str]:
    bucket = only(s, "AWS::S3::Bucket") if s.resources("AWS::S3::Bucket") else None

    def arn(resource: Resource) -> str:
        if isinstance(resource, Email):  # the account's SES identities
            return "arn:REF<AWS::Partition>:ses:REF<AWS::Region>:REF<AWS::AccountId>:identity"
        return f"ARN<{table_id(s, resource)}>" if isinstance(resource, Table) else f"ARN<{bucket}>"
    return arn


def env_value(s: Synth, resource: Resource) -> str:
    """What a function's environment names a resource it uses by: a table's or a bucket's name, an Email's sender."""
    return resource.sender if isinstance(resource, Email) else "REF" + arn_of(s)(resource)[3:]


def env_of(s: Synth, fn: str) -> dict[str, Any]:
    return s.doc["Resources"][fn]["Properties"]["Environment"]["Variables"]


def resource_path(path: str) -> str:
    """A MethodSetting's ResourcePath for ``path``: slashes escaped as ~1, the root as /."""
    return "/" if path == "/" else "/" + path.replace("/", "~1")


# -- authorization --------------------------------------------------------------------------------

def test_every_todo_method_takes_a_cognito_access_token(todo: Synth) -> None:
    authorizer = only(todo, "AWS::ApiGateway::Authorizer")
    todo.template.has_resource_properties("AWS::ApiGateway::Authorizer", {
        "Type": "COGNITO_USER_POOLS", "IdentitySource": "method.request.header.Authorization",
        "ProviderARNs": [{"Fn::GetAtt": [only(todo, "AWS::Cognito::UserPool"), "Arn"]}]})
    assert not any(r.public for r in todo.api.routes)
    todo.template.resource_count_is("AWS::ApiGateway::Method", len(todo.api.routes))
    todo.template.all_resources_properties("AWS::ApiGateway::Method", {
        "AuthorizationType": "COGNITO_USER_POOLS", "AuthorizerId": {"Ref": authorizer},
        "AuthorizationScopes": [ACCESS_TOKEN_SCOPE]})
    assert set(methods(todo)) == {(r.method, r.path) for r in todo.api.routes}


def test_a_public_route_has_no_authorizer_and_the_others_do(shop: Synth) -> None:
    authorizer = only(shop, "AWS::ApiGateway::Authorizer")
    found = methods(shop)
    assert set(found) == {(r.method, r.path) for r in shop.api.routes}
    for route in shop.api.routes:
        props = found[(route.method, route.path)]
        if route.public:
            assert props["AuthorizationType"] == "NONE", route.path
            assert "AuthorizerId" not in props and "AuthorizationScopes" not in props
            assert "method.request.header.Authorization" not in props.get("RequestParameters", {})
        else:
            assert props["AuthorizationType"] == "COGNITO_USER_POOLS", route.path
            assert props["AuthorizerId"] == {"Ref": authorizer}
            assert props["AuthorizationScopes"] == [ACCESS_TOKEN_SCOPE]
    assert [r.path for r in shop.api.routes if r.public] == ["/"]


def test_an_api_whose_routes_are_all_public_has_no_authorizer(other: Synth) -> None:
    """The API declares one, but no method would use it (the CDK refuses an authorizer left unattached)."""
    assert other.api.authorizer is not None and all(r.public for r in other.api.routes)
    other.template.resource_count_is("AWS::ApiGateway::Authorizer", 0)
    other.template.all_resources_properties("AWS::ApiGateway::Method", {"AuthorizationType": "NONE"})


# -- the stage: cache and throttling --------------------------------------------------------------

def expected_method_settings(api: RestApi) -> list[Any]:
    out = []
    for route in api.routes:
        ttl = api.cache_ttl_of(route)
        setting: dict[str, Any] = {"HttpMethod": route.method, "ResourcePath": resource_path(route.path),
                                   "CachingEnabled": ttl > 0,
                                   "CacheTtlInSeconds": ttl if ttl else Match.absent()}
        if route.throttle is not None:
            setting |= {"ThrottlingRateLimit": route.throttle.rate, "ThrottlingBurstLimit": route.throttle.burst}
        else:
            setting |= {"ThrottlingRateLimit": Match.absent(), "ThrottlingBurstLimit": Match.absent()}
        out.append(Match.object_like(setting))
    return out


def test_the_todo_stage_caches_reads_for_300_s_and_throttles_at_the_declared_rate(todo: Synth) -> None:
    api = todo.api
    assert api.cache is not None and api.cache.ttl == 300 and api.throttle == Throttle()
    assert (api.throttle.rate, api.throttle.burst) == (10_000, 5_000)
    assert {api.cache_ttl_of(r) for r in api.routes if r.method == "GET"} == {300}
    assert {api.cache_ttl_of(r) for r in api.routes if r.method != "GET"} == {0}
    stage = Capture()
    todo.template.has_resource_properties("AWS::ApiGateway::Stage", {
        "StageName": "prod", "CacheClusterEnabled": True, "CacheClusterSize": "0.5",
        "MethodSettings": stage})
    settings = stage.as_array()
    todo.template.has_resource_properties("AWS::ApiGateway::Stage", {"MethodSettings": Match.array_with([
        Match.object_like({"HttpMethod": "*", "ResourcePath": "/*", "CachingEnabled": False,
                           "ThrottlingRateLimit": 10_000, "ThrottlingBurstLimit": 5_000})])})
    todo.template.has_resource_properties("AWS::ApiGateway::Stage", {
        "MethodSettings": Match.array_with(expected_method_settings(api))})
    assert len(settings) == 1 + len(api.routes)
    cached = [st for st in settings if st.get("CachingEnabled")]
    assert {(st["HttpMethod"], st["CacheTtlInSeconds"]) for st in cached} == {("GET", 300)}
    assert all(st["CacheDataEncrypted"] for st in cached)


def test_invalidations_aws_cannot_do_are_reported(todo: Synth, shop: Synth) -> None:
    """API Gateway cannot drop one caller's entries, so each declared invalidation is named in a warning."""
    (warning,) = todo.result.warnings
    for route in todo.api.routes:
        for target in route.invalidates:
            assert f"{route.method} {route.path} -> {target}" in warning
    assert shop.result.warnings == []


def test_a_route_throttle_and_cache_opt_out_show_as_method_settings(shop: Synth) -> None:
    api = shop.api
    assert api.cache is not None
    shop.template.has_resource_properties("AWS::ApiGateway::Stage", {
        "CacheClusterEnabled": True,
        "MethodSettings": Match.array_with([Match.object_like({
            "HttpMethod": "*", "ResourcePath": "/*",
            "ThrottlingRateLimit": api.throttle.rate, "ThrottlingBurstLimit": api.throttle.burst})])})
    shop.template.has_resource_properties("AWS::ApiGateway::Stage", {
        "MethodSettings": Match.array_with(expected_method_settings(api))})
    # spelled out (arrayWith keeps order: the routes'), so the expectations above are known to say what they should
    shop.template.has_resource_properties("AWS::ApiGateway::Stage", {"MethodSettings": Match.array_with([
        Match.object_like({"HttpMethod": "GET", "ResourcePath": "/", "CachingEnabled": True,
                           "CacheTtlInSeconds": 120, "ThrottlingRateLimit": Match.absent()}),
        Match.object_like({"HttpMethod": "GET", "ResourcePath": "/~1items~1{id}", "CachingEnabled": True,
                           "CacheTtlInSeconds": 60, "ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 2}),
        Match.object_like({"HttpMethod": "GET", "ResourcePath": "/~1items", "CachingEnabled": False}),
        Match.object_like({"HttpMethod": "POST", "ResourcePath": "/~1items", "CachingEnabled": False,
                           "CacheTtlInSeconds": Match.absent()})])})


def expected_cache_key(route: Route) -> set[str]:
    key = {f"method.request.path.{p}" for p in route.params} | {f"method.request.querystring.{q}" for q in route.query}
    return key if route.public else key | {"method.request.header.Authorization"}


@pytest.mark.parametrize("app", ["todo", "shop"])
def test_cached_routes_key_on_the_caller_and_the_declared_parameters(app: str, request: pytest.FixtureRequest) -> None:
    s: Synth = request.getfixturevalue(app)
    found = methods(s)
    cached = 0
    for route in s.api.routes:
        integration = found[(route.method, route.path)]["Integration"]
        if s.api.cache_ttl_of(route):
            cached += 1
            assert set(integration["CacheKeyParameters"]) == expected_cache_key(route), route.path
            declared = found[(route.method, route.path)]["RequestParameters"]
            assert set(integration["CacheKeyParameters"]) <= set(declared)  # API Gateway keys only on declared ones
        else:
            assert "CacheKeyParameters" not in integration, route.path
    assert cached >= 2
    if app == "todo":  # spelled out once
        assert set(found[("GET", "/todos")]["Integration"]["CacheKeyParameters"]) == {
            "method.request.header.Authorization", "method.request.querystring.limit",
            "method.request.querystring.next_token", "method.request.querystring.done"}
        assert set(found[("GET", "/todos/{id}")]["Integration"]["CacheKeyParameters"]) == {
            "method.request.header.Authorization", "method.request.path.id"}


# -- identity pool and bucket ---------------------------------------------------------------------

def test_the_identity_pool_role_confines_each_identity_to_its_own_folder(todo: Synth) -> None:
    pool, bucket = only(todo, "AWS::Cognito::IdentityPool"), only(todo, "AWS::S3::Bucket")
    todo.template.has_resource_properties("AWS::Cognito::IdentityPool", {"AllowUnauthenticatedIdentities": False})
    role = Capture()
    todo.template.has_resource_properties("AWS::Cognito::IdentityPoolRoleAttachment", {
        "IdentityPoolId": {"Ref": pool}, "Roles": {"authenticated": {"Fn::GetAtt": [role, "Arn"]}}})
    props = todo.doc["Resources"][role.as_string()]["Properties"]
    (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                     "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                     "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": {"Ref": pool}},
                                   "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}
    statements = {st["Action"] if isinstance(st["Action"], str) else "objects": st
                  for st in statements_of_role(todo, role.as_string())}
    assert render(statements["objects"]["Resource"]) == f"arn:aws:s3:::REF<{bucket}>/${{cognito-identity.amazonaws.com:sub}}/*"
    listing = statements["s3:ListBucket"]
    assert render(listing["Resource"]) == f"arn:aws:s3:::REF<{bucket}>"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["${cognito-identity.amazonaws.com:sub}/*"]}}
    assert "<<bucket:" not in json.dumps(todo.doc)  # every placeholder resolved


def test_app_clients_allow_the_declared_sign_ins(todo: Synth, other: Synth) -> None:
    """todo declares the default (SRP and passwords), other passwords only; refreshing is always allowed."""
    todo.template.has_resource_properties("AWS::Cognito::UserPoolClient", {"ExplicitAuthFlows": Match.array_equals(
        ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])})
    other.template.has_resource_properties("AWS::Cognito::UserPoolClient", {"ExplicitAuthFlows": Match.array_equals(
        ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])})


# -- user pools: groups, MFA, hosted sign-in, resource servers, machine clients -------------------------

def pool_of(s: Synth) -> UserPool:
    (pool,) = s.graph.of_kind(UserPool)
    return pool


def client_named(s: Synth, name: str) -> dict[str, Any]:
    """The properties of the app client named ``name``."""
    (found,) = [r["Properties"] for r in s.resources("AWS::Cognito::UserPoolClient").values()
                if r["Properties"]["ClientName"] == name]
    return found


def test_declared_groups_are_groups_of_the_pool(partners: Synth, todo: Synth) -> None:
    pool = only(partners, "AWS::Cognito::UserPool")
    assert pool_of(partners).groups == ("staff", "admins")
    groups = partners.resources("AWS::Cognito::UserPoolGroup").values()
    assert sorted(g["Properties"]["GroupName"] for g in groups) == ["admins", "staff"]
    partners.template.all_resources_properties("AWS::Cognito::UserPoolGroup", {
        "UserPoolId": {"Ref": pool}, "RoleArn": Match.absent()})
    todo.template.resource_count_is("AWS::Cognito::UserPoolGroup", 0)


def test_required_mfa_is_an_authenticator_app_only(partners: Synth, todo: Synth) -> None:
    """TOTP only: no SMS second factor, so no role for Cognito to send SMS with."""
    assert pool_of(partners).mfa == "required"
    partners.template.has_resource_properties("AWS::Cognito::UserPool", {
        "MfaConfiguration": "ON", "EnabledMfas": ["SOFTWARE_TOKEN_MFA"], "SmsConfiguration": Match.absent()})
    assert not [r for r in partners.resources("AWS::IAM::Role").values()
                if "cognito-idp.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])]
    assert pool_of(todo).mfa == "off"
    todo.template.has_resource_properties("AWS::Cognito::UserPool", {
        "MfaConfiguration": Match.absent(), "EnabledMfas": Match.absent()})


def test_a_changed_email_counts_once_verified(todo: Synth) -> None:
    """As the local pool keeps the old address until VerifyUserAttribute takes the code mailed to the new one."""
    todo.template.has_resource_properties("AWS::Cognito::UserPool", {
        "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]}})


def test_hosted_sign_in_is_a_cognito_domain_and_the_code_flow(partners: Synth, todo: Synth) -> None:
    hosted = pool_of(partners).hosted
    assert hosted is not None
    partners.template.resource_count_is("AWS::Cognito::UserPoolDomain", 1)
    partners.template.has_resource_properties("AWS::Cognito::UserPoolDomain", {
        "Domain": "stratus-partners-login", "UserPoolId": {"Ref": only(partners, "AWS::Cognito::UserPool")},
        "CustomDomainConfig": Match.absent()})
    app = client_named(partners, "app")
    server = only(partners, "AWS::Cognito::UserPoolResourceServer")
    assert app["AllowedOAuthFlowsUserPoolClient"] is True and app["GenerateSecret"] is False
    assert app["AllowedOAuthFlows"] == ["code"]  # no implicit grant
    assert app["CallbackURLs"] == list(hosted.callback_urls) == [
        "https://partners.example.com/callback", "http://localhost:3000/callback"]
    assert app["LogoutURLs"] == ["https://partners.example.com/"]
    assert render(app["AllowedOAuthScopes"]) == [
        "openid", "email", "aws.cognito.signin.user.admin", f"REF<{server}>/read"]
    assert app["SupportedIdentityProviders"] == ["COGNITO"]
    assert app["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    # without hosted sign-in: no domain, no OAuth
    todo.template.resource_count_is("AWS::Cognito::UserPoolDomain", 0)
    todo.template.all_resources_properties("AWS::Cognito::UserPoolClient", {
        "AllowedOAuthFlowsUserPoolClient": False, "AllowedOAuthFlows": Match.absent(),
        "CallbackURLs": Match.absent()})


def test_a_resource_server_declares_its_scopes(partners: Synth) -> None:
    assert pool_of(partners).resource_servers == {"orders": ("read", "write")}
    partners.template.resource_count_is("AWS::Cognito::UserPoolResourceServer", 1)
    partners.template.has_resource_properties("AWS::Cognito::UserPoolResourceServer", {
        "Identifier": "orders", "UserPoolId": {"Ref": only(partners, "AWS::Cognito::UserPool")},
        "Scopes": [Match.object_like({"ScopeName": "read"}), Match.object_like({"ScopeName": "write"})]})
    # the Ref of a resource server is its identifier: the scopes clients are allowed read "orders/<scope>"
    assert partners.doc["Resources"][only(partners, "AWS::Cognito::UserPoolResourceServer")]["Properties"][
        "Identifier"] == "orders"


def test_a_machine_client_has_a_secret_and_only_the_client_credentials_grant(partners: Synth) -> None:
    pool = pool_of(partners)
    assert pool.machine_clients == {"fulfilment": ("orders/read", "orders/write")}
    machine = client_named(partners, "fulfilment")
    server = only(partners, "AWS::Cognito::UserPoolResourceServer")
    assert machine["GenerateSecret"] is True and machine["AllowedOAuthFlowsUserPoolClient"] is True
    assert machine["AllowedOAuthFlows"] == ["client_credentials"]
    assert render(machine["AllowedOAuthScopes"]) == [f"REF<{server}>/read", f"REF<{server}>/write"]
    assert machine["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]  # no user sign-in
    assert "CallbackURLs" not in machine and machine["SupportedIdentityProviders"] == ["COGNITO"]
    assert (machine["AccessTokenValidity"], machine["TokenValidityUnits"]["AccessToken"]) == (
        pool.access_token_ttl // 60, "minutes")
    assert [r["Properties"]["GenerateSecret"] for r in partners.resources("AWS::Cognito::UserPoolClient").values()
            ].count(True) == 1  # the public app client has none


def test_each_method_takes_its_routes_scopes(partners: Synth) -> None:
    """A route's declared scopes, or the signed-in user's scope; requires_group adds nothing on the method (the
    function checks the groups in the claims)."""
    found = methods(partners)
    by_path = {(r.method, r.path): r for r in partners.api.routes}
    assert by_path[("GET", "/orders")].scopes == ("orders/read",)
    assert found[("GET", "/orders")]["AuthorizationScopes"] == ["orders/read"]
    assert by_path[("POST", "/orders")].requires_group == "staff"
    assert found[("POST", "/orders")]["AuthorizationScopes"] == [ACCESS_TOKEN_SCOPE]
    assert found[("GET", "/me")]["AuthorizationScopes"] == [ACCESS_TOKEN_SCOPE]
    for key, route in by_path.items():
        assert found[key]["AuthorizationScopes"] == list(route.accepted_scopes), key
        assert found[key]["AuthorizationType"] == "COGNITO_USER_POOLS", key


def test_the_endpoints_output_names_the_domain_and_the_machine_clients(partners: Synth, todo: Synth) -> None:
    doc = json.loads(render(partners.doc["Outputs"]["StratusEndpoints"]["Value"]))
    pool = doc["apps"]["partners"]["user_pools"]["users"]
    ids = {r["Properties"]["ClientName"]: k for k, r in partners.resources("AWS::Cognito::UserPoolClient").items()}
    machine, app = ids["fulfilment"], ids["app"]
    assert pool["domain"] == "https://stratus-partners-login.auth.REF<AWS::Region>.amazoncognito.com"
    assert pool["machine_clients"] == {"fulfilment": f"REF<{machine}>"}
    assert pool["clients"] == {"app": f"REF<{app}>"}  # the machine client is not an app client
    assert doc["apps"]["partners"]["user_pool_client_id"] == f"REF<{app}>"
    todo_pool = json.loads(render(todo.doc["Outputs"]["StratusEndpoints"]["Value"]))["apps"]["todo"]["user_pools"]
    assert not {"domain", "machine_clients"} & set(next(iter(todo_pool.values())))


def test_the_bucket_is_private_encrypted_tls_only_and_has_cors(todo: Synth) -> None:
    bucket = only(todo, "AWS::S3::Bucket")
    todo.template.has_resource_properties("AWS::S3::Bucket", {
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": Match.any_value()}}]},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "CorsConfiguration": {"CorsRules": [Match.object_like({
            "AllowedMethods": Match.array_with(["GET", "PUT"]), "AllowedOrigins": Match.any_value()})]}})
    todo.template.has_resource_properties("AWS::S3::BucketPolicy", {
        "Bucket": {"Ref": bucket},
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Action": "s3:*", "Principal": {"AWS": "*"},
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Resource": Match.array_with([{"Fn::GetAtt": [bucket, "Arn"]}])})])}})


# -- tables and DAX --------------------------------------------------------------------------------

def test_tables_are_on_demand_with_pitr_and_encryption(todo: Synth) -> None:
    tables = todo.graph.of_kind(Table)
    todo.template.resource_count_is("AWS::DynamoDB::Table", len(tables))
    todo.template.all_resources_properties("AWS::DynamoDB::Table", {
        "BillingMode": "PAY_PER_REQUEST", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True}})
    assert len({table_id(todo, t) for t in tables}) == len(tables)


def test_a_declared_stream_is_a_dynamodb_stream_of_both_images(todo: Synth, shop: Synth) -> None:
    (orders,) = shop.graph.of_kind(Table)
    assert orders.stream
    props = shop.doc["Resources"][table_id(shop, orders)]["Properties"]
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["KeySchema"][1] == {"AttributeName": "at", "KeyType": "RANGE"}
    assert {"AttributeName": "at", "AttributeType": "N"} in props["AttributeDefinitions"]
    todo.template.all_resources_properties("AWS::DynamoDB::Table", {"StreamSpecification": Match.absent()})


def test_dax_is_encrypted_speaks_tls_and_lives_in_its_own_vpc(todo: Synth) -> None:
    vpc = only(todo, "AWS::EC2::VPC")
    cached = [t for t in todo.graph.of_kind(Table) if t.cache is not None]
    assert cached
    subnet_group, params, sg = Capture(), Capture(), Capture()
    todo.template.has_resource_properties("AWS::DAX::Cluster", {
        "SSESpecification": {"SSEEnabled": True}, "ClusterEndpointEncryptionType": "TLS",
        "SubnetGroupName": {"Ref": subnet_group}, "ParameterGroupName": {"Ref": params},
        "SecurityGroupIds": [{"Fn::GetAtt": [sg, "GroupId"]}]})
    todo.template.resource_count_is("AWS::DAX::Cluster", 1)
    subnets = todo.doc["Resources"][subnet_group.as_string()]["Properties"]["SubnetIds"]
    assert subnets and all(todo.doc["Resources"][s["Ref"]]["Properties"]["VpcId"] == {"Ref": vpc} for s in subnets)
    assert todo.doc["Resources"][sg.as_string()]["Properties"]["VpcId"] == {"Ref": vpc}
    (cache,) = {t.cache for t in cached}
    assert cache is not None
    assert todo.doc["Resources"][params.as_string()]["Properties"]["ParameterNameValues"] == {
        "record-ttl-millis": str(int(cache.item_ttl * 1000)), "query-ttl-millis": str(int(cache.query_ttl * 1000))}
    # no way out of the VPC: no internet or NAT gateway, only the DynamoDB and S3 gateway endpoints
    for absent in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway"):
        todo.template.resource_count_is(absent, 0)
    todo.template.resource_count_is("AWS::EC2::VPCEndpoint", 2)
    dax = only(todo, "AWS::DAX::Cluster")
    for route in todo.api.routes:
        fn = function_of(todo, route)
        uses_cache = any(isinstance(r, Table) and r.cache is not None for r in route.uses)
        assert uses_cache == ("VpcConfig" in todo.doc["Resources"][fn]["Properties"]), route.path
        if uses_cache:
            assert env_of(todo, fn)["STRATUS_DAX_ENDPOINT"] == {"Fn::GetAtt": [dax, "ClusterDiscoveryEndpointURL"]}
            assert todo.doc["Resources"][fn]["Properties"]["VpcConfig"]["SecurityGroupIds"] != [
                {"Fn::GetAtt": [sg.as_string(), "GroupId"]}]  # the functions' group, not DAX's


def test_without_dax_there_is_no_cluster_and_no_vpc(todo_no_dax: Synth) -> None:
    s = todo_no_dax
    assert any(t.cache is not None for t in s.graph.of_kind(Table))  # the app declares a cache; the option drops it
    assert not [t for t in s.doc["Resources"].values() if t["Type"].startswith(("AWS::DAX::", "AWS::EC2::"))]
    s.template.resource_count_is("AWS::Lambda::Function", len(s.api.routes))
    s.template.all_resources_properties("AWS::Lambda::Function", {"VpcConfig": Match.absent()})
    for fn in s.resources("AWS::Lambda::Function"):
        assert "STRATUS_DAX_ENDPOINT" not in env_of(s, fn)
    assert "dax:" not in json.dumps(s.doc)
    assert "AWSLambdaVPCAccessExecutionRole" not in json.dumps(s.doc)


# -- functions and their roles ----------------------------------------------------------------------

@pytest.mark.parametrize("app", ["todo", "todo_no_dax", "shop"])
def test_functions_are_arm64_python_314_running_the_one_entry_point(app: str, request: pytest.FixtureRequest) -> None:
    s: Synth = request.getfixturevalue(app)
    s.template.resource_count_is("AWS::Lambda::Function", len(s.api.routes))
    s.template.all_resources_properties("AWS::Lambda::Function", {
        "Architectures": ["arm64"], "Runtime": "python3.14", "Handler": ENTRY})
    assert ENTRY == "stratus.aws.runtime.entry.handler"


@pytest.mark.parametrize("app", ["todo", "todo_no_dax", "shop", "other", "authoring"])
def test_no_handler_role_has_a_wildcard_action(app: str, request: pytest.FixtureRequest) -> None:
    s: Synth = request.getfixturevalue(app)
    roles = {s.doc["Resources"][fn]["Properties"]["Role"]["Fn::GetAtt"][0] for fn in s.resources("AWS::Lambda::Function")}
    assert len(roles) == len(s.api.routes)  # one role per function
    policies = [p for p in s.resources("AWS::IAM::Policy").values()
                if any(r.get("Ref") in roles for r in p["Properties"]["Roles"])]
    assert len(policies) >= len(roles)
    for role in roles:
        statements = statements_of_role(s, role)
        assert statements
        for st in statements:
            assert st["Effect"] == "Allow"
            for action in as_list(st["Action"]):
                assert "*" not in action, (role, st)
            assert "NotAction" not in st and "NotResource" not in st
        assert "ManagedPolicyArns" not in s.doc["Resources"][role]["Properties"]  # everything granted is in view


@pytest.mark.parametrize("app", ["todo", "todo_no_dax", "other", "authoring"])
def test_each_handler_is_granted_exactly_what_its_uses_derive(app: str, request: pytest.FixtureRequest) -> None:
    s: Synth = request.getfixturevalue(app)
    dax = f"ARN<{only(s, 'AWS::DAX::Cluster')}>" if s.resources("AWS::DAX::Cluster") else None
    for route in s.api.routes:
        fn = function_of(s, route)
        props = s.doc["Resources"][fn]["Properties"]
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        expected = handler_policy(route, arn_of(s), dax)["Statement"]
        expected.append({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                         "Resource": f"ARN<{log_group}>"})
        if "VpcConfig" in props:  # a function using a cached table, placed in DAX's VPC
            expected.append({"Effect": "Allow", "Action": list(VPC_ACTIONS), "Resource": "*"})
        assert grants(statements_of_role(s, props["Role"]["Fn::GetAtt"][0])) == grants(expected), route.path
        # the function finds each resource it uses, and only those, by name in its environment
        named = {f"STRATUS_{r.kind.upper()}_{r.name.upper().replace('-', '_')}": env_value(s, r) for r in route.uses}
        env = render(env_of(s, fn))
        assert {k: v for k, v in env.items() if k.startswith(("STRATUS_TABLE_", "STRATUS_BUCKET_", "STRATUS_EMAIL_"))} \
            == named, route.path


# -- triggers ------------------------------------------------------------------------------------------

def trigger_function(s: Synth, name: str) -> str:
    (fn,) = [f for f, r in s.resources("AWS::Lambda::Function").items()
             if r["Properties"].get("Environment", {}).get("Variables", {}).get("STRATUS_TRIGGER") == name]
    return fn


def test_a_table_trigger_is_a_stream_mapping_in_order_with_its_kinds_and_a_failure_queue(feed: Synth) -> None:
    from stratus.graph import TableTrigger
    triggers = {t.name: t for t in feed.graph.of_kind(TableTrigger)}
    mappings = {render(m["Properties"]["FunctionName"]): m["Properties"]
                for m in feed.resources("AWS::Lambda::EventSourceMapping").values()
                if "EventSourceArn" in m["Properties"] and "StreamArn" in json.dumps(m["Properties"]["EventSourceArn"])}
    assert len(mappings) == len(triggers) == 4
    for name, trigger in triggers.items():
        fn = trigger_function(feed, name)
        props = mappings[f"REF<{fn}>"]
        assert props["StartingPosition"] == "LATEST" and props["BisectBatchOnFunctionError"] is True
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]  # one item's changes stay in order
        assert props["DestinationConfig"]["OnFailure"]["Destination"]  # a queue for what fails
        kinds = json.loads(props["FilterCriteria"]["Filters"][0]["Pattern"])["eventName"]
        assert sorted(kinds) == sorted(trigger.kinds)
        expected = -1 if trigger.max_attempts is None else trigger.max_attempts - 1
        assert props.get("MaximumRetryAttempts", -1) == expected
        assert feed.doc["Resources"][fn]["Properties"]["Timeout"] == max(1, int(trigger.timeout))
    feed.template.all_resources_properties("AWS::SQS::Queue", {
        "SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 86400})


def test_an_object_trigger_is_a_filtered_notification_retried_twice_with_a_queue_to_redrive(feed: Synth) -> None:
    notifications = feed.resources("Custom::S3BucketNotifications")
    (config,) = [r["Properties"]["NotificationConfiguration"] for r in notifications.values()]
    lambdas = {render(c["LambdaFunctionArn"]): c for c in config["LambdaFunctionConfigurations"]}
    arrived, gone = trigger_function(feed, "arrived"), trigger_function(feed, "gone")
    assert lambdas[f"ARN<{arrived}>"]["Events"] == ["s3:ObjectCreated:*"]
    rules = lambdas[f"ARN<{arrived}>"]["Filter"]["Key"]["FilterRules"]
    assert sorted((r["Name"], r["Value"]) for r in rules) == [("prefix", "in/"), ("suffix", ".txt")]
    assert lambdas[f"ARN<{gone}>"]["Events"] == ["s3:ObjectRemoved:*"] and "Filter" not in lambdas[f"ARN<{gone}>"]
    for fn in (arrived, gone):
        (invoke,) = [c["Properties"] for c in feed.resources("AWS::Lambda::EventInvokeConfig").values()
                     if render(c["Properties"]["FunctionName"]) == f"REF<{fn}>"]
        assert invoke["MaximumRetryAttempts"] == 2 and invoke["DestinationConfig"]["OnFailure"]["Destination"]
        (redrive,) = [m["Properties"] for m in feed.resources("AWS::Lambda::EventSourceMapping").values()
                      if render(m["Properties"]["FunctionName"]) == f"REF<{fn}>"]
        assert redrive["Enabled"] is False  # turned on, it sends the dead letters again


def test_a_trigger_function_may_use_what_it_declares_and_read_its_own_stream(feed: Synth) -> None:
    fn = trigger_function(feed, "record")
    props = feed.doc["Resources"][fn]["Properties"]
    statements = statements_of_role(feed, props["Role"]["Fn::GetAtt"][0])
    actions = {a for st in statements for a in as_list(st["Action"])}
    assert "dynamodb:PutItem" in actions and "dynamodb:GetRecords" in actions and "sqs:SendMessage" in actions
    assert not [a for a in actions if "*" in a.split(":")[1]] and "ses:SendRawEmail" not in actions
    assert render(props["Environment"]["Variables"]["STRATUS_TRIGGER"]) == "record"


# -- the blog: a global table, a confined thumbnailer, a native dependency -----------------------------

@pytest.fixture(scope="module")
def blog(shared: Callable[[str], Synth]) -> Synth:
    return shared("blog")


def test_a_global_table_is_a_table_v2_with_its_replicas_in_a_stack_of_its_home_region(blog: Synth) -> None:
    (posts,) = blog.resources("AWS::DynamoDB::GlobalTable").values()
    props = posts["Properties"]
    assert sorted(r["Region"] for r in props["Replicas"]) == ["eu-west-1", "us-east-1"]
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["BillingMode"] == "PAY_PER_REQUEST" and props["SSESpecification"]["SSEEnabled"] is True
    assert all(r["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] for r in props["Replicas"])
    assert posts["DeletionPolicy"] == "Retain"
    assert blog.result.stack_name == "stratus-blog"
    manifest = json.loads((blog.result.out_dir / "manifest.json").read_text())
    assert manifest["artifacts"]["stratus-blog"]["environment"] == "aws://unknown-account/us-east-1"
    doc = json.loads(render(blog.doc["Outputs"]["StratusEndpoints"]["Value"]))
    entry = doc["apps"]["blog"]
    assert entry["regions"] == {"us-east-1": {"apis": entry["apis"], "api": entry["api"]}}
    assert set(entry["buckets"]) == {"photos", "site", "logs"} and entry["user_pool_id"] and entry["user_pool_client_id"]


def test_the_thumbnailer_may_write_only_under_its_declared_prefix(blog: Synth) -> None:
    fn = trigger_function(blog, "make-thumbnail")
    photos = json.loads(render(blog.doc["Outputs"]["StratusEndpoints"]["Value"]))["apps"]["blog"]["buckets"]["photos"]
    statements = statements_of_role(blog, blog.doc["Resources"][fn]["Properties"]["Role"]["Fn::GetAtt"][0])
    writes = [st for st in statements if "s3:PutObject" in as_list(st["Action"])]
    assert len(writes) == 1 and [render(r) for r in as_list(writes[0]["Resource"])] == \
        [f"ARN{photos[3:]}/thumbnails/*"]
    reads = [st for st in statements if "s3:GetObject" in as_list(st["Action"])]
    assert [render(r) for r in as_list(reads[0]["Resource"])] == [f"ARN{photos[3:]}/*"]


def test_pillow_goes_in_as_its_linux_arm64_build(blog: Synth) -> None:
    assert any(v.startswith("pillow==") for v in blog.result.vendored)
    manifest = json.loads((blog.result.out_dir / "stratus-blog.assets.json").read_text())
    (folder,) = [blog.result.out_dir / f["source"]["path"] for f in manifest["files"].values()
                 if f["source"]["packaging"] == "zip" and (blog.result.out_dir / f["source"]["path"] / "stratus").is_dir()]
    native = [p.name for p in (folder / "PIL").glob("_imaging*.so")]
    assert native and all("aarch64" in n for n in native), native
    assert not (folder / "apps" / "blog" / "tour.py").exists()


# -- outputs and the asset ----------------------------------------------------------------------------

def test_the_stratus_endpoints_output_describes_the_stack(todo: Synth) -> None:
    todo.template.has_output("StratusEndpoints", {"Value": Match.any_value(), "Description": Match.any_value()})
    doc = json.loads(render(todo.doc["Outputs"]["StratusEndpoints"]["Value"]))
    assert doc["provider"] == "aws" and doc["stack"] == todo.result.stack_name == "stratus-todo"
    entry = doc["apps"]["todo"]
    rest, stage = only(todo, "AWS::ApiGateway::RestApi"), only(todo, "AWS::ApiGateway::Stage")
    assert entry["api"] == f"https://REF<{rest}>.execute-api.REF<AWS::Region>.REF<AWS::URLSuffix>/REF<{stage}>"
    assert todo.doc["Resources"][stage]["Properties"]["StageName"] == "prod"
    assert entry["apis"] == {"api": entry["api"]}
    assert entry["identity_pool_id"] == f"REF<{only(todo, 'AWS::Cognito::IdentityPool')}>"
    assert entry["buckets"] == {"files": f"REF<{only(todo, 'AWS::S3::Bucket')}>"}
    assert entry["user_pool_id"] == f"REF<{only(todo, 'AWS::Cognito::UserPool')}>"
    assert entry["user_pool_client_id"] == f"REF<{only(todo, 'AWS::Cognito::UserPoolClient')}>"


def asset_dir(s: Synth) -> Path:
    """The one zipped folder asset of the assembly, which every function's code points at."""
    manifest = json.loads((s.result.out_dir / f"{s.result.stack_name}.assets.json").read_text())
    (key,) = [k for k, f in manifest["files"].items() if f["source"]["packaging"] == "zip"]
    s.template.all_resources_properties("AWS::Lambda::Function", {"Code": Match.object_like({"S3Key": f"{key}.zip"})})
    return s.result.out_dir / manifest["files"][key]["source"]["path"]


def test_the_asset_holds_the_runtime_and_the_app_but_not_the_tooling(todo: Synth) -> None:
    asset = asset_dir(todo)
    for present in ("stratus/aws/runtime/entry.py", "stratus/aws/runtime/kinds/table.py", "stratus/graph/app.py",
                    "stratus/ports/table.py", "apps/todo/app.py", "amazondax/__init__.py"):
        assert (asset / present).is_file(), present
    for absent in ("stratus/local", "stratus/cli", "stratus/demo.py", "stratus/testing.py", "stratus/aws/deploy",
                   "stratus/endpoints.py", "apps/todo/tour.py"):
        assert not (asset / absent).exists(), absent
    assert not list(asset.rglob("__pycache__")) and not list(asset.rglob("*.pyc"))
    assert any(v.startswith("amazon-dax-client==") for v in todo.result.vendored)


def test_the_platform_in_the_asset_is_exactly_the_allowlist(todo: Synth) -> None:
    """What ships is listed (``bundle.SHIPPED``), not what was forgotten in a denylist: every file of the platform
    in the asset is on the list, and everything on the list is there."""
    from stratus.aws.deploy.bundle import SHIPPED
    platform = Path(stratus.__file__).parent
    shipped = {p.relative_to(asset_dir(todo) / "stratus").as_posix()
               for p in (asset_dir(todo) / "stratus").rglob("*") if p.is_file()}
    listed = {e for e in SHIPPED if not e.endswith("/")}
    listed |= {p.relative_to(platform).as_posix() for e in SHIPPED if e.endswith("/")
               for p in (platform / e).rglob("*.py")}
    assert shipped == listed
    assert not any(e.startswith(("local", "cli", "aws/deploy")) or e in ("demo.py", "testing.py") for e in SHIPPED)


def test_the_asset_loads_the_app_on_its_own(todo: Synth, tmp_path: Path) -> None:
    """The asset runs with only what Lambda's Python runtime adds: the standard library and boto3.

    ``-I -S`` keeps this venv's site-packages away; the path is the asset and a folder holding
    just boto3 and what it needs, as on Lambda. The entry point loads the app with the environment
    synthesis writes (a DAX endpoint included), imports the bundled DAX client, and answers a
    request, and every module it loaded comes from those two folders or the standard library.
    """
    import boto3
    import botocore
    import dateutil
    import jmespath
    import s3transfer
    import six
    import urllib3
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for module in (boto3, botocore, dateutil, jmespath, s3transfer, urllib3):
        (runtime / module.__name__).symlink_to(Path(module.__file__).parent)
    (runtime / "six.py").symlink_to(six.__file__)  # python-dateutil's
    asset = asset_dir(todo)
    probe = textwrap.dedent(f"""
        import json, os, sys, sysconfig
        sys.path[:0] = [{str(asset)!r}, {str(runtime)!r}]
        os.environ.update(LAMBDA_TASK_ROOT={str(asset)!r}, STRATUS_APP="todo", STRATUS_API="api",
                          STRATUS_TABLE_TODOS="t1", STRATUS_TABLE_LIST_VERSIONS="t2", AWS_REGION="eu-west-1",
                          STRATUS_DAX_ENDPOINT="daxs://c.abc123.dax-clusters.eu-west-1.amazonaws.com")
        import importlib, pkgutil
        import stratus
        for m in pkgutil.walk_packages(stratus.__path__, "stratus."):  # every shipped module imports on its own
            importlib.import_module(m.name)
        from stratus.aws.runtime import entry
        import amazondax
        answer = entry.handler({{"resource": "/nowhere", "path": "/nowhere", "httpMethod": "GET", "headers": None,
                                 "requestContext": {{"requestId": "r1", "stage": "prod"}}}}, None)
        stdlib = sysconfig.get_paths()["stdlib"]
        outside = sorted(name for name, m in list(sys.modules.items())
                         if getattr(m, "__file__", None) and not m.__file__.startswith(
                             ({str(asset)!r}, {str(runtime)!r}, stdlib)))
        print(json.dumps({{"app": entry.handler.loaded.app.name, "status": answer["statusCode"], "outside": outside,
                          "orjson": "orjson" in sys.modules}}))
    """)
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"app": "todo", "status": 404, "outside": [], "orjson": False}


def test_no_dax_no_dax_client_in_the_asset(todo_no_dax: Synth) -> None:
    assert todo_no_dax.result.vendored == []
    assert not (asset_dir(todo_no_dax) / "amazondax").exists()


# -- what synthesis refuses -----------------------------------------------------------------------------

REFUSED = {
    "refresh-403": ("""
        from stratus import ApiCache, App
        app = App("refresh-403")
        users = app.user_pool("users")
        api = app.rest_api("api", authorizer=users, cache=ApiCache(unauthorized_refresh="FAIL_WITH_403"))
        api.get("/things")(lambda req, ctx: {})
        """, UnsupportedFeature, "FAIL_WITH_403"),
    "refresh-open": ("""
        from stratus import ApiCache, App
        app = App("refresh-open")
        api = app.rest_api("api", cache=ApiCache(require_authorization_for_refresh=False))
        api.get("/things", public=True)(lambda req, ctx: {})
        """, UnsupportedFeature, "require_authorization_for_refresh=False"),
    "no-routes": ("""
        from stratus import App
        app = App("no-routes")
        app.rest_api("api")
        """, ConfigError, "api 'api' declares no routes"),
    "credential-ttl": ("""
        from stratus import App
        app = App("credential-ttl")
        users = app.user_pool("users")
        app.identity_pool("ids", user_pool=users, credential_ttl=900, authenticated_policy={"Statement": []})
        """, UnsupportedFeature, "credential_ttl=900"),
    "code-ttl": ("""
        from stratus import App
        app = App("code-ttl")
        app.user_pool("users", code_ttl=3600)
        """, UnsupportedFeature, "code_ttl=3600"),
    "machine-clients-without-domain": ("""
        from stratus import App
        app = App("machine-clients-without-domain")
        app.user_pool("users", resource_servers={"orders": ("read",)}, machine_clients={"batch": ("orders/read",)})
        """, ConfigError, "user pool 'users': machine_clients (batch)"),
    "object-trigger-retries": ("""
        from stratus import App
        app = App("object-trigger-retries")
        photos = app.bucket("photos")

        @app.on_object_created(photos, max_attempts=5)
        def on_photo(event, ctx):
            pass
        """, UnsupportedFeature, "trigger 'on-photo': max_attempts=5"),
    "unknown-kind": ("""
        from dataclasses import dataclass
        from stratus import App
        from stratus.graph import Resource

        @dataclass(eq=False, repr=False)
        class Queue(Resource):
            kind = "queue"
            name: str

        app = App("unknown-kind")
        app.add(Queue("jobs"))
        """, UnsupportedFeature, "<queue 'jobs'>"),
    "dax-ttls": ("""
        from stratus import App, TableCache
        app = App("dax-ttls")
        app.table("a", partition_key="id", cache=TableCache(item_ttl=60))
        app.table("b", partition_key="id", cache=TableCache(item_ttl=120))
        """, ConfigError, "their cache TTLs must agree"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_what_synthesis_cannot_do_is_refused_by_name(name: str, tmp_path: Path) -> None:
    source, error, needle = REFUSED[name]
    app_dir = tmp_path / f"refused-{name}"  # a folder name of its own: the loader caches apps by it
    app_dir.mkdir()
    (app_dir / "app.py").write_text(textwrap.dedent(source))
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # an earlier assembly
    with pytest.raises(error) as exc:
        synthesize(app_dir, out)
    assert needle in str(exc.value)
    if name != "dax-ttls":  # refused before anything is built: the previous assembly is untouched
        assert (out / "manifest.json").exists()


def test_only_an_earlier_assembly_or_an_empty_folder_is_replaced(tmp_path: Path) -> None:
    """The output folder is emptied first, so it must be synth's own: never the app, never someone's files."""
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me")
    with pytest.raises(StratusError, match="holds no earlier cloud assembly"):
        synthesize(TODO, mine)
    assert (mine / "todo.txt").read_text() == "keep me"
    with pytest.raises(StratusError, match="overlaps the app folder"):
        synthesize(TODO, TODO)
    with pytest.raises(StratusError, match="overlaps the app folder"):
        synthesize(TODO, TODO.parent)
    (tmp_path / "file").write_text("")
    with pytest.raises(StratusError, match="is a file"):
        synthesize(TODO, tmp_path / "file")
    assert (TODO / "app.py").is_file()


def test_the_declarations_it_refuses_are_accepted_at_aws_defaults(tmp_path: Path) -> None:
    """The refusals are about the values, not the features: AWS's own values synthesize."""
    app_dir = tmp_path / "defaults-accepted"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(textwrap.dedent("""
        from stratus import ApiCache, App
        app = App("defaults-accepted")
        users = app.user_pool("users", code_ttl=24 * 3600)
        app.identity_pool("ids", user_pool=users, credential_ttl=3600, authenticated_policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "cognito-identity:GetId", "Resource": "*"}]})
        api = app.rest_api("api", authorizer=users, cache=ApiCache(require_authorization_for_refresh=True,
                                                                   unauthorized_refresh="SUCCEED_WITH_RESPONSE_HEADER"))

        @api.get("/")
        def home(req, ctx):
            return {}
        """))
    result = synthesize(app_dir, tmp_path / "out")
    assert result.template.is_file()


def test_no_route_is_a_404_and_401s_say_bearer(todo: Synth) -> None:
    """API Gateway's own answers match the local gateway's: 404 for a missing route, WWW-Authenticate on 401."""
    todo.template.has_resource_properties("AWS::ApiGateway::GatewayResponse", {
        "ResponseType": "MISSING_AUTHENTICATION_TOKEN", "StatusCode": "404",
        "ResponseTemplates": {"application/json": Match.string_like_regexp("no route for")}})
    todo.template.has_resource_properties("AWS::ApiGateway::GatewayResponse", {
        "ResponseType": "UNAUTHORIZED", "StatusCode": "401",
        "ResponseParameters": {"gatewayresponse.header.WWW-Authenticate": "'Bearer'"}})


# -- the kinds beyond MyTodoList, and the order of declarations ---------------------------------------

def test_a_handler_using_an_email_may_send_from_its_sender_only(authoring: Synth) -> None:
    (route,) = [r for r in authoring.api.routes if r.path == "/welcome"]
    fn = function_of(authoring, route)
    assert render(env_of(authoring, fn))["STRATUS_EMAIL_WELCOME"] == "hello@example.com"
    role = authoring.doc["Resources"][fn]["Properties"]["Role"]["Fn::GetAtt"][0]
    ses = [st for st in statements_of_role(authoring, role) if "ses:SendRawEmail" in as_list(st["Action"])]
    identity = "arn:REF<AWS::Partition>:ses:REF<AWS::Region>:REF<AWS::AccountId>:identity/"
    assert len(ses) == 1 and as_list(ses[0]["Action"]) == ["ses:SendRawEmail"]
    assert sorted(render(as_list(ses[0]["Resource"]))) == [identity + "example.com", identity + "hello@example.com"]
    assert ses[0]["Condition"] == {"StringEquals": {"ses:FromAddress": "hello@example.com"}}
    for other in authoring.api.routes:  # no function that declares no Email may send mail
        if not any(isinstance(r, Email) for r in other.uses):
            other_role = authoring.doc["Resources"][function_of(authoring, other)]["Properties"]["Role"]["Fn::GetAtt"][0]
            assert not any(a.startswith("ses:") for st in statements_of_role(authoring, other_role)
                           for a in as_list(st["Action"]))


BACKWARDS = """
    from stratus import App, Bucket, IdentityPool, RestApi, Table, UserPool
    app = App("backwards")
    users, files, notes = UserPool("users"), Bucket("files"), Table("notes", "owner")
    api = app.add(RestApi("api", authorizer=users))
    app.add(IdentityPool("ids", users, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{files.arn}/*"}]}))

    @api.get("/n", uses=[notes, files])
    def read(req, ctx):
        return {}
    for r in (notes, files, users):
        app.add(r)
"""


def test_resources_are_built_in_the_order_their_dependencies_demand(tmp_path: Path) -> None:
    """Declared dependants first (an API before its pool and table, an identity pool before its bucket): the
    synthesis is the same as in the natural order."""
    app_dir = tmp_path / "backwards"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(textwrap.dedent(BACKWARDS))
    s = synth(app_dir, tmp_path / "out")
    assert list(s.graph.resources)[:2] == ["rest_api:api", "identity_pool:ids"]
    for type_ in ("AWS::Cognito::UserPool", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Cognito::IdentityPool"):
        only(s, type_)
    (role,) = [r for r in s.resources("AWS::IAM::Role").values() if "inline" not in r and
               any(p["PolicyName"] == "declared" for p in r["Properties"].get("Policies", []))]
    (statement,) = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert render(statement["Resource"]) == f"arn:aws:s3:::REF<{only(s, 'AWS::S3::Bucket')}>/*"
