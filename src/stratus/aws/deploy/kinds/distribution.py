"""Distributions on AWS: a CloudFront distribution, each declared ``Behavior`` a cache behavior and each origin
CloudFront's counterpart.

    BucketOrigin   the bucket through origin access control (``S3BucketOrigin.with_origin_access_control``): the
                   edge signs as ``cloudfront.amazonaws.com`` and the bucket's policy lets it read only when
                   ``AWS:SourceArn`` is this distribution: ``s3:GetObject`` only, as CDK writes it and as the
                   local edge is allowed. A missing object is then S3's 403, on both: declare an error response
                   for 403.
    ApiOrigin      the REST API's stage (``RestApiOrigin``), every viewer header but ``Host`` forwarded (the
                   managed ``AllViewerExceptHostHeader`` origin request policy); ``strip`` is a CloudFront Function
                   (JS 2.0) on the behavior's viewer requests, shared by every behavior stripping the same prefix.
    HttpOrigin     a custom origin on the URL's scheme, port and path, waiting ``timeout`` seconds. CloudFront's
                   quota is 60 s per origin, raised only by asking AWS, so a longer timeout is refused.

Each ``CachePolicy`` becomes a CloudFront cache policy, one construct per distinct policy in the app (the account
holds 20 custom ones): ``CACHING_OPTIMIZED`` and any zero-TTL policy are AWS's managed CachingOptimized and
CachingDisabled (CloudFront refuses key settings on a policy that keeps nothing). A bucket, and a web server behind a
behavior that caches, get what is in the key; a REST API, and a web server behind a behavior that keeps nothing, get
every viewer header, cookie and query string but ``Host`` (with ``Authorization``, which CloudFront forwards only in a
key or with caching off), so the origin sees the request as made.

Every behavior redirects HTTP to HTTPS and carries one response headers policy per app: HSTS for two years
(with subdomains, preload), ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Referrer-Policy: strict-origin-when-cross-origin`` and ``X-XSS-Protection: 1; mode=block``. Access logs, when
declared, are CloudFront's standard logs: written with ACLs, so the log bucket must have them on (its kind's).

The security policy is TLSv1.2_2021, written into the template though CloudFront applies it only to a
distribution with its own certificate: on its ``*.cloudfront.net`` name every distribution takes TLSv1 and up, and
synthesis warns so.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any
from urllib.parse import urlsplit

from ....errors import UnsupportedFeature
from ....graph import App, Distribution
from ....graph.edge import CACHING_OPTIMIZED, AllExcept, ApiOrigin, Behavior, BucketOrigin, CachePolicy, HttpOrigin
from ..synth import StackBuilder, SynthKind

MAX_READ_TIMEOUT = 60  # CloudFront's response timeout quota per origin, without a quota increase
HSTS_MAX_AGE_DAYS = 730
SECURITY_POLICY = "TLSv1.2_2021"


class DistributionKind(SynthKind[Distribution]):
    def check(self, decl: Distribution, app: App) -> None:
        for origin in decl.origins:
            if isinstance(origin, HttpOrigin) and origin.timeout > MAX_READ_TIMEOUT:
                raise UnsupportedFeature(
                    f"distribution {decl.name!r}: HttpOrigin({origin.url!r}, timeout={origin.timeout:g}); CloudFront "
                    f"waits at most {MAX_READ_TIMEOUT} s for an origin unless AWS raises the account's 'Response "
                    f"timeout per origin' quota, which a template cannot do: give timeout={MAX_READ_TIMEOUT} or less")
        for e in decl.error_responses:
            if e.page is None and e.response_status is not None:
                raise UnsupportedFeature(
                    f"distribution {decl.name!r}: ErrorResponse({e.status}, response_status={e.response_status}) "
                    "without a page; CloudFront changes an error's status only with a page to show")

    def build(self, b: StackBuilder, decl: Distribution) -> Any:
        cf, cdk_ = b.cdk.aws_cloudfront, b.cdk
        origins: dict[Any, Any] = {}  # declared origin -> the CDK's, one per distinct origin

        def behavior(declared: Behavior) -> Any:
            if declared.origin not in origins:
                origins[declared.origin] = _origin(b, decl, declared.origin)
            policy = declared.cache
            forward_all = isinstance(declared.origin, ApiOrigin) or (
                isinstance(declared.origin, HttpOrigin) and not policy.caching)
            strip = declared.origin.strip.rstrip("/") if isinstance(declared.origin, ApiOrigin) else ""
            return cf.BehaviorOptions(
                origin=origins[declared.origin], cache_policy=_cache_policy(b, policy),
                compress=policy.compress,
                allowed_methods=cf.AllowedMethods.ALLOW_ALL if declared.methods == "all"
                else cf.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
                viewer_protocol_policy=cf.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                origin_request_policy=cf.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER if forward_all else None,
                response_headers_policy=b.shared("edge-response-headers", lambda: _response_headers(b)),
                function_associations=[cf.FunctionAssociation(
                    function=_strip_function(b, strip), event_type=cf.FunctionEventType.VIEWER_REQUEST)]
                if strip else None)

        logs: dict[str, Any] = {}
        if decl.logs is not None:
            logs = {"enable_logging": True, "log_bucket": b.construct(decl.logs),
                    "log_file_prefix": decl.logs_prefix or None}
        dist = cf.Distribution(
            b.stack, b.id(decl), comment=f"{b.graph.name}: {decl.name}"[:128],
            default_behavior=behavior(decl.default),
            additional_behaviors={x.path: behavior(x) for x in decl.behaviors} or None,
            default_root_object=decl.default_root_object or None,
            error_responses=[cf.ErrorResponse(
                http_status=e.status, response_page_path=e.page,
                response_http_status=(e.response_status or e.status) if e.page else None,
                ttl=cdk_.Duration.seconds(e.ttl)) for e in decl.error_responses] or None,
            http_version=cf.HttpVersion.HTTP2_AND_3, price_class=cf.PriceClass.PRICE_CLASS_100,
            minimum_protocol_version=cf.SecurityPolicyProtocol.TLS_V1_2_2021, **logs)
        # the CDK writes a security policy only with a certificate of the distribution's own
        dist.node.default_child.add_property_override(
            "DistributionConfig.ViewerCertificate",
            {"CloudFrontDefaultCertificate": True, "MinimumProtocolVersion": SECURITY_POLICY})
        b.warnings.append(
            f"distribution {decl.name!r}: on its *.cloudfront.net name CloudFront accepts TLSv1 and up whatever the "
            f"security policy ({SECURITY_POLICY} takes effect with a domain and certificate of its own)")
        return dist

    def facts(self, b: StackBuilder, decl: Distribution, built: Any) -> Any:
        domain = built.distribution_domain_name
        return {"url": b.cdk.Fn.join("", ["https://", domain]), "id": built.distribution_id,
                "arn": built.distribution_arn, "domain": domain}


def _origin(b: StackBuilder, decl: Distribution, origin: BucketOrigin | ApiOrigin | HttpOrigin) -> Any:
    """The CDK origin for a declared one (each distinct declared origin once per distribution)."""
    cf, origins = b.cdk.aws_cloudfront, b.cdk.aws_cloudfront_origins
    if isinstance(origin, BucketOrigin):
        return origins.S3BucketOrigin.with_origin_access_control(
            b.construct(origin.bucket), origin_access_levels=[cf.AccessLevel.READ],
            origin_path=_origin_path(origin.path))
    if isinstance(origin, ApiOrigin):
        return origins.RestApiOrigin(b.construct(origin.api))
    url = urlsplit(origin.url)
    https = url.scheme == "https"
    port = {"https_port" if https else "http_port": url.port} if url.port else {}
    assert url.hostname is not None  # HttpOrigin checked it
    return origins.HttpOrigin(
        url.hostname, origin_path=_origin_path(url.path),
        protocol_policy=cf.OriginProtocolPolicy.HTTPS_ONLY if https else cf.OriginProtocolPolicy.HTTP_ONLY,
        read_timeout=b.cdk.Duration.seconds(math.ceil(origin.timeout)), **port)


def _origin_path(path: str) -> str | None:
    """CloudFront's form of an origin path: a leading slash, none at the end; None for the root."""
    path = path.strip("/")
    return f"/{path}" if path else None


def _cache_policy(b: StackBuilder, policy: CachePolicy) -> Any:
    """The CloudFront cache policy for ``policy``: AWS's managed one when they are the same, else one construct per
    distinct policy in the app, named by a digest of its settings (stable whatever order it is reached in)."""
    cf, seconds = b.cdk.aws_cloudfront, b.cdk.Duration.seconds
    if not policy.caching:
        return cf.CachePolicy.CACHING_DISABLED
    if policy == CACHING_OPTIMIZED:
        return cf.CachePolicy.CACHING_OPTIMIZED
    digest = hashlib.sha256(repr(policy).encode()).hexdigest()[:10]

    def make() -> Any:
        return cf.CachePolicy(
            b.stack, f"cache-policy-{digest}", comment=f"{b.graph.name}: {_describe(policy)}"[:128],
            min_ttl=seconds(policy.min_ttl), default_ttl=seconds(policy.default_ttl), max_ttl=seconds(policy.max_ttl),
            header_behavior=cf.CacheHeaderBehavior.allow_list(*policy.headers) if policy.headers
            else cf.CacheHeaderBehavior.none(),
            cookie_behavior=_key_part(cf.CacheCookieBehavior, policy.cookies),
            query_string_behavior=_key_part(cf.CacheQueryStringBehavior, policy.query_strings),
            enable_accept_encoding_gzip=policy.compress, enable_accept_encoding_brotli=policy.compress)
    return b.shared(f"cache-policy-{digest}", make)


def _key_part(behavior: Any, part: Any) -> Any:
    """A declared key part (``"none"``, ``"all"``, names, ``AllExcept``) as the CDK's cookie or query behavior."""
    if part == "none":
        return behavior.none()
    if part == "all":
        return behavior.all()
    if isinstance(part, AllExcept):
        return behavior.deny_list(*part.names)
    return behavior.allow_list(*part)


def _describe(policy: CachePolicy) -> str:
    def part(value: Any) -> str:
        if isinstance(value, AllExcept):
            return "all but " + ",".join(value.names)
        return value if isinstance(value, str) else ",".join(value)
    return (f"ttl {policy.min_ttl}/{policy.default_ttl}/{policy.max_ttl} s; headers "
            f"{','.join(policy.headers) or 'none'}; cookies {part(policy.cookies)}; query {part(policy.query_strings)}")


def _response_headers(b: StackBuilder) -> Any:
    """The app's one response headers policy: the security headers, overriding the origin's."""
    cf, cdk_ = b.cdk.aws_cloudfront, b.cdk
    return cf.ResponseHeadersPolicy(
        b.stack, "edge-response-headers", comment=f"{b.graph.name}: security headers",
        security_headers_behavior=cf.ResponseSecurityHeadersBehavior(
            strict_transport_security=cf.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=cdk_.Duration.days(HSTS_MAX_AGE_DAYS), include_subdomains=True, preload=True,
                override=True),
            content_type_options=cf.ResponseHeadersContentTypeOptions(override=True),
            frame_options=cf.ResponseHeadersFrameOptions(frame_option=cf.HeadersFrameOption.DENY, override=True),
            referrer_policy=cf.ResponseHeadersReferrerPolicy(
                referrer_policy=cf.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True),
            xss_protection=cf.ResponseHeadersXSSProtection(protection=True, mode_block=True, override=True)))


STRIP_CODE = """\
function handler(event) {
  var request = event.request, prefix = %s;
  if (request.uri === prefix) {
    request.uri = "/";
  } else if (request.uri.indexOf(prefix + "/") === 0) {
    request.uri = request.uri.substring(prefix.length);
  }
  return request;
}
"""


def strip_code(prefix: str) -> str:
    """The CloudFront Function (JS 2.0) taking ``prefix`` off a viewer request's path, as the local edge does:
    ``/api/posts`` to ``/posts``, ``/api`` to ``/``; ``/apix`` and any path not under it are left as they are."""
    return STRIP_CODE % json.dumps(prefix)


def _strip_function(b: StackBuilder, prefix: str) -> Any:
    cf = b.cdk.aws_cloudfront
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:10]
    return b.shared(f"edge-strip-{digest}", lambda: cf.Function(
        b.stack, f"edge-strip-{digest}", code=cf.FunctionCode.from_inline(strip_code(prefix)),
        runtime=cf.FunctionRuntime.JS_2_0, comment=f"{b.graph.name}: takes {prefix} off the path"[:128]))


KIND = DistributionKind()
