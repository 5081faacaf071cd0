"""REST APIs on AWS: API Gateway, regional; a Cognito authorizer on every non-public method (taking the
user pool's access tokens that carry one of the route's scopes, as locally), the declared stage cache and
throttling, access logs; and one Lambda function per route running the one entry point, with an environment
naming what the route uses and a role granting exactly that."""

from __future__ import annotations

from typing import Any

from ....errors import ConfigError, UnsupportedFeature
from ....graph import App, RestApi, Route
from ....graph.auth import USER_SCOPE
from ..functions import handler_function
from ..synth import StackBuilder, SynthKind

# a signed-in user's access token carries this scope, a route's default (Route.accepted_scopes); naming scopes on
# a method makes API Gateway's Cognito authorizer take access tokens (as the local gateway does), not ID tokens
ACCESS_TOKEN_SCOPE = USER_SCOPE
CACHE_SIZES_GB = ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")


class RestApiKind(SynthKind[RestApi]):
    def check(self, decl: RestApi, app: App) -> None:
        if not decl.routes:
            raise ConfigError(f"api {decl.name!r} declares no routes; API Gateway cannot deploy a REST API without "
                              "methods")
        cache = decl.cache
        if cache is not None and (not cache.require_authorization_for_refresh
                                  or cache.unauthorized_refresh != "SUCCEED_WITH_RESPONSE_HEADER"):
            raise UnsupportedFeature(
                f"api {decl.name!r}: ApiCache(require_authorization_for_refresh={cache.require_authorization_for_refresh}, "
                f"unauthorized_refresh={cache.unauthorized_refresh!r}); CloudFormation cannot set how the stage cache "
                "treats refresh requests, so only AWS's defaults (True, 'SUCCEED_WITH_RESPONSE_HEADER') can be synthesized")
        if cache is not None:
            _cache_size(cache.max_bytes)

    def build(self, b: StackBuilder, decl: RestApi) -> Any:
        apigw, cdk_ = b.apigw, b.cdk
        access_log = b.logs.LogGroup(b.stack, f"{b.id(decl)}-access-log", retention=b.retention(),
                                     removal_policy=cdk_.RemovalPolicy.DESTROY)
        method_options = {}
        for route in decl.routes:
            ttl = decl.cache_ttl_of(route)
            throttle = route.throttle
            method_options[f"{route.path}/{route.method}"] = apigw.MethodDeploymentOptions(
                caching_enabled=ttl > 0, cache_ttl=cdk_.Duration.seconds(ttl) if ttl else None,
                cache_data_encrypted=True if ttl else None,
                throttling_rate_limit=throttle.rate if throttle else None,
                throttling_burst_limit=throttle.burst if throttle else None)
        cache = decl.cache
        rest = apigw.RestApi(
            b.stack, b.id(decl), rest_api_name=f"{b.graph.name}-{decl.name}",
            description=decl.title or f"{b.graph.name} {decl.name}", cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk_.RemovalPolicy.RETAIN,
            endpoint_types=[apigw.EndpointType.REGIONAL], disable_execute_api_endpoint=False,
            deploy_options=apigw.StageOptions(
                stage_name=b.options.stage,
                throttling_rate_limit=decl.throttle.rate, throttling_burst_limit=decl.throttle.burst,
                cache_cluster_enabled=cache is not None, cache_cluster_size=_cache_size(cache.max_bytes) if cache else None,
                caching_enabled=False, cache_data_encrypted=True if cache else None,
                method_options=method_options,
                access_log_destination=apigw.LogGroupLogDestination(access_log),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
                    response_length=True, status=True, user=True)))
        # API Gateway answers a path or method with no route "403 Missing Authentication Token"; the local
        # gateway answers 404 (405 for a known path, which API Gateway cannot tell apart: 404 here too)
        rest.add_gateway_response("no-route", type=apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, status_code="404",
                                  templates={"application/json":
                                             '{"message":"no route for $context.httpMethod $context.path"}'})
        rest.add_gateway_response("unauthorized", type=apigw.ResponseType.UNAUTHORIZED, status_code="401",
                                  response_headers={"WWW-Authenticate": "'Bearer'"},
                                  templates={"application/json": '{"message":$context.error.messageString}'})
        authorizer = None
        if decl.authorizer is not None and not all(r.public for r in decl.routes):  # the CDK refuses an unused one
            authorizer = apigw.CognitoUserPoolsAuthorizer(
                b.stack, f"{b.id(decl)}-authorizer", cognito_user_pools=[b.construct(decl.authorizer).pool],
                identity_source="method.request.header.Authorization")
        stale = []
        for route in decl.routes:
            fn = _function(b, decl, route)
            ttl = decl.cache_ttl_of(route)
            params = {f"method.request.path.{p}": True for p in route.params}
            params.update({f"method.request.querystring.{q}": False for q in route.query})
            if not route.public:
                params["method.request.header.Authorization"] = True
            resource = rest.root.resource_for_path(route.path.lstrip("/")) if route.path != "/" else rest.root
            resource.add_method(
                route.method,
                apigw.LambdaIntegration(fn, proxy=True, allow_test_invoke=False,
                                        cache_key_parameters=list(params) if ttl else None),
                operation_name=route.operation_id, request_parameters=params,
                authorization_type=apigw.AuthorizationType.NONE if route.public else apigw.AuthorizationType.COGNITO,
                authorizer=None if route.public else authorizer,
                authorization_scopes=None if route.public else list(route.accepted_scopes))
            stale += [f"{route.method} {route.path} -> {t}" for t in route.invalidates]
        if stale:
            b.warnings.append(
                f"api {decl.name!r}: API Gateway cannot drop one caller's cache entries, so the invalidations declared "
                f"({'; '.join(stale)}) do not happen on AWS; cached answers live out their TTL there")
        return rest

    def facts(self, b: StackBuilder, decl: RestApi, built: Any) -> Any:
        aws = b.cdk.Aws
        return b.cdk.Fn.join("", ["https://", built.rest_api_id, ".execute-api.", aws.REGION, ".", aws.URL_SUFFIX, "/",
                                  built.deployment_stage.stage_name])


def _function(b: StackBuilder, api: RestApi, route: Route) -> Any:
    """The function serving ``route``: the entry point, an environment naming what it uses, a role to match."""
    return handler_function(b, f"{b.id(api)}-{route.operation_id}".replace("_", "-"), route.uses,
                            {"STRATUS_API": api.name}, 29,
                            f"{route.method} {route.path}: what the handler declares it uses",
                            f"{b.graph.name}: {route.method} {route.path} ({route.operation_id})")


def _cache_size(max_bytes: int) -> str:
    """The smallest API Gateway cache cluster size holding ``max_bytes``."""
    for size in CACHE_SIZES_GB:
        if float(size) * 1024**3 >= max_bytes:
            return size
    raise ConfigError(f"api cache max_bytes {max_bytes}: API Gateway's largest cache is {CACHE_SIZES_GB[-1]} GB")


KIND = RestApiKind()
