"""``stratus synth`` of the edge: a distribution over a bucket, a REST API and a web server, and a folder deployed to
the bucket, checked with the CDK's assertions on the CloudFormation, cfn-lint and checkov.

The app is declared here (``EDGE``) and written with its site folder into a temporary folder, synthesized once per
module. Expectations come from the declarations (``cache_control_for``, the declared policies) where they can, and
resources are found by what they are (the bucket whose name the logs go to, the behavior with a path pattern).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_cloudfront as cf
from aws_cdk.assertions import Match
from cfnlint.api import ManualArgs, lint_file

from stratus.aws.deploy.kinds.bucket_deployment import cache_groups, folder_files
from stratus.aws.deploy.kinds.distribution import HSTS_MAX_AGE_DAYS, strip_code
from stratus.aws.deploy.synth import synthesize
from stratus.errors import ConfigError, UnsupportedFeature
from stratus.graph import BucketDeployment
from tests.aws.test_scans import (
    CFN_LINT_IGNORED,
    CFN_LINT_REGIONS,
    checkov,  # noqa: F401  (the fixture: checkov in a virtual environment of its own)
    describe,
    run_checkov,
    skips,
)
from tests.aws.test_synth import Synth, render, synth

pytestmark = pytest.mark.synth

EDGE = """
    from stratus import (CACHING_DISABLED, AllExcept, ApiOrigin, App, Behavior, BucketOrigin, CachePolicy,
                         ErrorResponse, HttpOrigin)

    app = App("edge")
    site = app.bucket("site")
    logs = app.bucket("logs")
    api = app.rest_api("api")


    @api.get("/hello", public=True)
    def hello(req, ctx):
        return {"hello": "world"}


    SHORT = CachePolicy(default_ttl=5, max_ttl=10, headers=("Authorization",), query_strings="all")
    cdn = app.distribution(
        "cdn", default=Behavior(BucketOrigin(site)),
        behaviors=[
            Behavior(ApiOrigin(api, strip="/api"), path="/api/*", cache=SHORT),
            Behavior(ApiOrigin(api), path="/hello", cache=CachePolicy(default_ttl=5, max_ttl=10,
                                                                       headers=("Authorization",),
                                                                       query_strings="all")),
            Behavior(ApiOrigin(api), path="/hello/*", cache=CachePolicy(0, 0, 0, headers=("Authorization",)),
                     methods="all"),
            Behavior(BucketOrigin(site), path="/assets/*",
                     cache=CachePolicy(query_strings=AllExcept("utm_source"), cookies=("session",), compress=False)),
            Behavior(HttpOrigin("http://legacy.example.com:8080/base/", timeout=45), path="/legacy/*",
                     cache=CACHING_DISABLED, methods="all"),
        ],
        default_root_object="index.html", error_responses=[ErrorResponse(404, page="/404.html")],
        logs=logs, logs_prefix="edge/")
    app.deploy_folder("site", bucket=site, source="site", distribution=cdn, cache_control={"*.css": "public, max-age=600"})
"""
SITE = {"index.html": "<h1>edge</h1>", "404.html": "<h1>not here</h1>", "app.1a2b3c4d.js": "go()",
        "style.css": "h1{}", "docs/odd[1] *.txt": "a name the sync's filters must take literally"}
# the managed policies' ids, as CloudFront publishes them
CACHING_OPTIMIZED_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_ID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def write_app(folder: Path, source: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(textwrap.dedent(source))
    for name, text in (files or {}).items():
        (folder / "site" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "site" / name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    root = tmp_path_factory.mktemp("edge")
    return synth(write_app(root / "edge", EDGE, SITE), root / "out")


# -- reading the template ------------------------------------------------------------------------

def only(s: Synth, type_: str) -> tuple[str, dict[str, Any]]:
    ((key, resource),) = s.resources(type_).items()
    return key, resource["Properties"]


def config(s: Synth) -> dict[str, Any]:
    return only(s, "AWS::CloudFront::Distribution")[1]["DistributionConfig"]


def behaviors(s: Synth) -> dict[str, dict[str, Any]]:
    """The distribution's cache behaviors by path pattern, the default as ``""``, in the order they are matched."""
    cfg = config(s)
    return {**{b["PathPattern"]: b for b in cfg.get("CacheBehaviors", [])}, "": cfg["DefaultCacheBehavior"]}


def origin_of(s: Synth, behavior: dict[str, Any]) -> dict[str, Any]:
    (origin,) = [o for o in config(s)["Origins"] if o["Id"] == behavior["TargetOriginId"]]
    return origin


def bucket_named(s: Synth, name: str) -> str:
    """The logical id of the bucket the app declares as ``name`` (its endpoints entry names it)."""
    ref = endpoints(s)["buckets"][name]
    assert ref.startswith("REF<")
    return ref[4:-1]


def endpoints(s: Synth) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(s.doc["Outputs"]["StratusEndpoints"]["Value"]))
    return doc["apps"]["edge"]


def distribution_arn(s: Synth) -> str:
    dist, _ = only(s, "AWS::CloudFront::Distribution")
    return f"arn:REF<AWS::Partition>:cloudfront::REF<AWS::AccountId>:distribution/REF<{dist}>"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- the distribution ----------------------------------------------------------------------------------

def test_behaviors_keep_the_declared_order_and_methods(edge: Synth) -> None:
    found = behaviors(edge)
    assert list(found) == ["/api/*", "/hello", "/hello/*", "/assets/*", "/legacy/*", ""]
    read, every = ["GET", "HEAD", "OPTIONS"], ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
    assert {p: b["AllowedMethods"] for p, b in found.items()} == {
        "/api/*": read, "/hello": read, "/hello/*": every, "/assets/*": read, "/legacy/*": every, "": read}
    assert all(b["ViewerProtocolPolicy"] == "redirect-to-https" for b in found.values())


def test_the_distribution_is_http2_and_3_price_class_100_tls_12_with_its_error_page_and_logs(edge: Synth) -> None:
    edge.template.has_resource_properties("AWS::CloudFront::Distribution", {"DistributionConfig": Match.object_like({
        "ViewerCertificate": {"CloudFrontDefaultCertificate": True, "MinimumProtocolVersion": "TLSv1.2_2021"}})})
    cfg = config(edge)
    assert (cfg["HttpVersion"], cfg["PriceClass"], cfg["DefaultRootObject"]) == ("http2and3", "PriceClass_100",
                                                                                 "index.html")
    assert cfg["CustomErrorResponses"] == [{"ErrorCode": 404, "ResponseCode": 404, "ResponsePagePath": "/404.html",
                                            "ErrorCachingMinTTL": 10}]
    assert render(cfg["Logging"]) == {"Bucket": f"ATT<{bucket_named(edge, 'logs')}.RegionalDomainName>",
                                      "Prefix": "edge/"}
    # the policy is ignored on the cloudfront.net name, and synthesis says so
    assert any("TLSv1" in w and "'cdn'" in w for w in edge.result.warnings)


def test_the_log_bucket_has_acls_for_cloudfront_standard_logs(edge: Synth) -> None:
    """CloudFront writes standard logs with an ACL grant, which a bucket with ACLs off (BucketOwnerEnforced) refuses
    at deploy; the site bucket keeps them off."""
    ownership = {name: edge.doc["Resources"][bucket_named(edge, name)]["Properties"]["OwnershipControls"]
                 for name in ("logs", "site")}
    assert ownership == {"logs": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
                         "site": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}


def test_the_bucket_is_read_through_origin_access_control_for_this_distribution_only(edge: Synth) -> None:
    edge.template.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    edge.template.has_resource_properties("AWS::CloudFront::OriginAccessControl", {
        "OriginAccessControlConfig": Match.object_like({
            "OriginAccessControlOriginType": "s3", "SigningBehavior": "always", "SigningProtocol": "sigv4"})})
    oac, _ = only(edge, "AWS::CloudFront::OriginAccessControl")
    site = bucket_named(edge, "site")
    found = behaviors(edge)
    for path in ("", "/assets/*"):  # one origin for the bucket, whichever behaviors use it
        origin = origin_of(edge, found[path])
        assert render(origin["DomainName"]) == f"ATT<{site}.RegionalDomainName>"
        assert render(origin["OriginAccessControlId"]) == f"ATT<{oac}.Id>"
        assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert found[""]["TargetOriginId"] == found["/assets/*"]["TargetOriginId"]
    (policy,) = [p["Properties"] for p in edge.resources("AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": site}]
    (edge_read,) = [st for st in policy["PolicyDocument"]["Statement"]
                    if st.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    assert edge_read["Effect"] == "Allow"
    assert render(edge_read["Condition"]) == {"StringEquals": {"AWS:SourceArn": distribution_arn(edge)}}
    # reading objects only, as CDK writes it and the local edge is allowed (a missing object is S3's 403)
    assert as_list(edge_read["Action"]) == ["s3:GetObject"]
    assert render(as_list(edge_read["Resource"])) == [f"ARN<{site}>/*"]
    logs = bucket_named(edge, "logs")
    assert not any(st.get("Principal") == {"Service": "cloudfront.amazonaws.com"}
                   for p in edge.resources("AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": logs}
                   for st in p["Properties"]["PolicyDocument"]["Statement"])


def test_the_api_is_reached_with_every_viewer_header_but_host_and_its_prefix_stripped(edge: Synth) -> None:
    found = behaviors(edge)
    rest = next(iter(edge.resources("AWS::ApiGateway::RestApi")))
    for path in ("/api/*", "/hello", "/hello/*"):
        assert found[path]["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_ID
        origin = origin_of(edge, found[path])
        assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
        assert f"REF<{rest}>.execute-api." in json.dumps(render(origin["DomainName"]))
    assert ALL_VIEWER_EXCEPT_HOST_ID == cf.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.origin_request_policy_id
    edge.template.has_resource_properties("AWS::CloudFront::Function", {
        "FunctionConfig": Match.object_like({"Runtime": "cloudfront-js-2.0"}), "AutoPublish": True})
    (association,) = found["/api/*"]["FunctionAssociations"]
    fn, props = only(edge, "AWS::CloudFront::Function")
    assert association == {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [fn, "FunctionARN"]}}
    assert props["FunctionCode"] == strip_code("/api")
    assert "FunctionAssociations" not in found["/hello"]


def test_the_strip_function_takes_the_prefix_off_as_the_local_edge_does(edge: Synth) -> None:
    """The function's code, run in Node.js (the CDK's): CloudFront Functions are JavaScript of the same kind."""
    node = os.environ["JSII_NODE"]  # set by synthesis
    code = only(edge, "AWS::CloudFront::Function")[1]["FunctionCode"]
    uris = ["/api/posts", "/api", "/api/", "/apix/posts", "/other/api/x", "/api/a/b?c"]
    probe = code + f"console.log(JSON.stringify({json.dumps(uris)}.map(u => handler({{request: {{uri: u}}}}).uri)))"
    done = subprocess.run([node, "-e", probe], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == ["/posts", "/", "/", "/apix/posts", "/other/api/x", "/a/b?c"]


def test_the_web_server_origin_takes_its_scheme_port_path_and_timeout(edge: Synth) -> None:
    behavior = behaviors(edge)["/legacy/*"]
    origin = origin_of(edge, behavior)
    assert (origin["DomainName"], origin["OriginPath"]) == ("legacy.example.com", "/base")
    assert {k: origin["CustomOriginConfig"].get(k) for k in ("OriginProtocolPolicy", "HTTPPort", "OriginReadTimeout")} \
        == {"OriginProtocolPolicy": "http-only", "HTTPPort": 8080, "OriginReadTimeout": 45}
    # nothing kept: the request reaches it as the viewer made it
    assert behavior["CachePolicyId"] == CACHING_DISABLED_ID
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_ID


def test_cache_policies_are_the_declared_ones_shared_or_aws_managed(edge: Synth) -> None:
    found = behaviors(edge)
    assert found[""]["CachePolicyId"] == CACHING_OPTIMIZED_ID  # CACHING_OPTIMIZED is AWS's own
    assert found["/hello/*"]["CachePolicyId"] == CACHING_DISABLED_ID  # a zero-TTL policy has no key
    assert CACHING_OPTIMIZED_ID == cf.CachePolicy.CACHING_OPTIMIZED.cache_policy_id
    assert CACHING_DISABLED_ID == cf.CachePolicy.CACHING_DISABLED.cache_policy_id
    policies = {k: p["Properties"]["CachePolicyConfig"] for k, p in edge.resources("AWS::CloudFront::CachePolicy").items()}
    assert len(policies) == 2  # /api/* and /hello declare equal policies: one construct
    assert found["/api/*"]["CachePolicyId"] == found["/hello"]["CachePolicyId"]
    short = policies[found["/api/*"]["CachePolicyId"]["Ref"]]
    assert (short["MinTTL"], short["DefaultTTL"], short["MaxTTL"]) == (0, 5, 10)
    assert short["ParametersInCacheKeyAndForwardedToOrigin"] == {
        "CookiesConfig": {"CookieBehavior": "none"},
        "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": ["Authorization"]},
        "QueryStringsConfig": {"QueryStringBehavior": "all"},
        "EnableAcceptEncodingGzip": True, "EnableAcceptEncodingBrotli": True}
    assets = policies[found["/assets/*"]["CachePolicyId"]["Ref"]]
    assert (assets["MinTTL"], assets["DefaultTTL"], assets["MaxTTL"]) == (0, 86400, 31536000)
    assert assets["ParametersInCacheKeyAndForwardedToOrigin"] == {
        "CookiesConfig": {"CookieBehavior": "whitelist", "Cookies": ["session"]},
        "HeadersConfig": {"HeaderBehavior": "none"},
        "QueryStringsConfig": {"QueryStringBehavior": "allExcept", "QueryStrings": ["utm_source"]},
        "EnableAcceptEncodingGzip": False, "EnableAcceptEncodingBrotli": False}
    assert {p: b["Compress"] for p, b in found.items()} == {
        "/api/*": True, "/hello": True, "/hello/*": True, "/assets/*": False, "/legacy/*": False, "": True}


def test_every_behavior_sends_the_security_headers(edge: Synth) -> None:
    edge.template.has_resource_properties("AWS::CloudFront::ResponseHeadersPolicy", {
        "ResponseHeadersPolicyConfig": Match.object_like({"SecurityHeadersConfig": Match.object_like({
            "StrictTransportSecurity": Match.object_like({"Preload": True, "IncludeSubdomains": True})})})})
    policy, props = only(edge, "AWS::CloudFront::ResponseHeadersPolicy")
    assert all(b["ResponseHeadersPolicyId"] == {"Ref": policy} for b in behaviors(edge).values())
    assert props["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"] == {
        "StrictTransportSecurity": {"AccessControlMaxAgeSec": HSTS_MAX_AGE_DAYS * 86400, "IncludeSubdomains": True,
                                    "Preload": True, "Override": True},
        "ContentTypeOptions": {"Override": True},
        "FrameOptions": {"FrameOption": "DENY", "Override": True},
        "ReferrerPolicy": {"ReferrerPolicy": "strict-origin-when-cross-origin", "Override": True},
        "XSSProtection": {"Protection": True, "ModeBlock": True, "Override": True}}
    assert HSTS_MAX_AGE_DAYS * 86400 >= 2 * 365 * 86400


def test_the_endpoints_output_lists_the_distribution(edge: Synth) -> None:
    dist, _ = only(edge, "AWS::CloudFront::Distribution")
    domain = f"ATT<{dist}.DomainName>"
    assert endpoints(edge)["distributions"] == {
        "cdn": {"url": f"https://{domain}", "id": f"REF<{dist}>", "arn": distribution_arn(edge), "domain": domain}}


# -- the deployed folder ----------------------------------------------------------------------------

def synced(keys: Iterable[str], deployment: dict[str, Any]) -> set[str]:
    """The keys a deployment's ``aws s3 sync`` acts on: its excludes, then its includes, the last filter that fits a
    key deciding (fnmatch on the whole path, as the AWS CLI matches), every key when none fits."""
    filters = [(False, p) for p in deployment.get("Exclude", [])] + [(True, p) for p in deployment.get("Include", [])]
    out = set()
    for key in keys:
        wanted = True
        for include, pattern in filters:
            if fnmatchcase(key, pattern):
                wanted = include
        if wanted:
            out.add(key)
    return out


def test_the_folder_is_deployed_one_cache_control_per_deployment_and_one_prunes(edge: Synth) -> None:
    (decl,) = edge.graph.of_kind(BucketDeployment)
    assert edge.graph.folder is not None
    groups = cache_groups(folder_files(edge.graph.folder / decl.source), decl.cache_control)
    assert set(groups) == {"public, max-age=60", "public, max-age=31536000, immutable", "public, max-age=600",
                           "public, max-age=3600"}
    edge.template.resource_count_is("Custom::CDKBucketDeployment", len(groups))
    deployments = edge.resources("Custom::CDKBucketDeployment")
    site = bucket_named(edge, "site")
    files = {p for paths in groups.values() for p in paths}
    gone = {"old.html", "docs/old[1] *.txt", "img/gone.png"}  # keys an earlier deploy left, now out of the folder
    (pruner,) = [k for k, r in deployments.items() if r["Properties"]["Prune"] is True]
    for key, resource in deployments.items():
        props = resource["Properties"]
        assert props["DestinationBucketName"] == {"Ref": site} and props["RetainOnDelete"] is True
        (value,) = [v for v, paths in groups.items() if synced(files, props) == set(paths)]
        assert props["SystemMetadata"] == {"cache-control": value}
        if key == pruner:  # the largest group, which deletes whatever is not another group's file, last
            assert set(groups[value]) == {"index.html", "404.html"}
            assert synced(files | gone, props) == set(groups[value]) | gone
            assert set(resource["DependsOn"]) >= set(deployments) - {pruner}
            assert props["DistributionId"] == {"Ref": only(edge, "AWS::CloudFront::Distribution")[0]}
            assert props["DistributionPaths"] == ["/*"]
        else:
            assert synced(files | gone, props) == set(groups[value])
            assert "DistributionId" not in props
    assert {p for k, r in deployments.items() for p in synced(files, r["Properties"])} == files


def test_the_deployment_handler_logs_to_a_group_kept_for_the_retention_period(edge: Synth) -> None:
    (fn,) = [r["Properties"] for r in edge.resources("AWS::Lambda::Function").values()
             if r["Properties"].get("Handler") == "index.handler"]
    group = fn["LoggingConfig"]["LogGroup"]["Ref"]
    assert edge.doc["Resources"][group]["Properties"] == {"RetentionInDays": 30}


# -- scans ------------------------------------------------------------------------------------------

def test_cfn_lint_passes(edge: Synth) -> None:
    matches = lint_file(edge.result.template, ManualArgs(regions=CFN_LINT_REGIONS, ignore_checks=CFN_LINT_IGNORED))
    assert [str(m) for m in matches] == []


def test_checkov_finds_nothing_not_listed_with_a_reason(request: pytest.FixtureRequest, edge: Synth,
                                                        tmp_path: Path) -> None:
    scanner: Path = request.getfixturevalue("checkov")
    failed = run_checkov(scanner, [edge.result.template], list(skips()), tmp_path)
    assert describe(failed) == []


# -- what synthesis refuses or warns of ------------------------------------------------------------------

SMALL = """
    from stratus import App, Behavior, BucketOrigin, ErrorResponse, HttpOrigin
    app = App("{name}")
    site = app.bucket("site")
    {body}
"""
REFUSED: dict[str, tuple[str, type[Exception], str]] = {
    "slow-origin": ('app.distribution("cdn", default=Behavior(HttpOrigin("https://slow.example.com", timeout=90)))',
                    UnsupportedFeature, "timeout=90"),
    "status-without-page": ('app.distribution("cdn", default=Behavior(BucketOrigin(site)), '
                            'error_responses=[ErrorResponse(403, response_status=404)])',
                            UnsupportedFeature, "response_status=404"),
    "two-deployments": ('app.deploy_folder("a", bucket=site, source="site")\n'
                        '    app.deploy_folder("b", bucket=site, source="site")', UnsupportedFeature, "both copy into"),
    "logs-deployed-over": ('app.distribution("cdn", default=Behavior(BucketOrigin(site)), logs=site)\n'
                           '    app.deploy_folder("a", bucket=site, source="site")', UnsupportedFeature, "access logs"),
    "no-folder": ('app.deploy_folder("a", bucket=site, source="nothing")', ConfigError, "'nothing' is not a folder"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_what_aws_cannot_do_at_the_edge_is_refused_by_name(name: str, tmp_path: Path) -> None:
    body, error, needle = REFUSED[name]
    app_dir = write_app(tmp_path / f"refused-{name}", SMALL.format(name=name, body=body), {"index.html": "hi"})
    with pytest.raises(error) as exc:
        synthesize(app_dir, tmp_path / "out")
    assert needle in str(exc.value)
    assert not (tmp_path / "out").exists()  # refused before anything is built
