"""Who signed a request and what they may do: principals, the credentials that name them, one authorizer.

Every endpoint that takes AWS credentials (S3 today; the queue and topic endpoints next)
verifies the signature (``sigv4``), which names a ``Credential``; the credential's
``principal`` says whose it is. ``Authorizer.allowed`` decides an action on a resource for
any principal the same way, from the policies the principal carries, its own condition keys
and the request's, so a new wire protocol needs to know nothing about Cognito identities or
the operator.

``Credentials`` is every key the endpoints accept: the operator's static key pair (full
access, made on first start and kept in the data dir, 0600) and whatever issuers add (each
identity pool's temporary credentials). Beside the key pair the operator gets a bearer token
for the operations under ``/_stratus`` (figures, cache flushes, the manual clock).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import string
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ...clock import Clock
from ..infra.files import write_private
from .iam import RequestContext, evaluate, evaluate_resource
from .sigv4 import Credential

_UPPER = string.ascii_uppercase + string.digits
Keys = Mapping[str, "str | list[str]"]


ACCOUNT = "000000000000"  # the local account's id, in the ARNs resource policies name principals by
ACCOUNT_NAMES = (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)


class Principal:
    """Whoever a credential belongs to, as the authorizer sees them. The base class is nobody in particular: an
    anonymous caller, whom only a resource policy's ``"Principal": "*"`` names."""

    def policies(self) -> Sequence[dict[str, Any]] | None:
        """The identity policies that decide what the principal may do; None: anything (the operator)."""
        return ()

    def context_keys(self) -> dict[str, str | list[str]]:
        """The condition keys the principal brings (``aws:userid``, ``cognito-identity.amazonaws.com:sub``, ...)."""
        return {}

    def names(self) -> dict[str, list[str]]:
        """What a resource policy's ``Principal`` may call this principal, by type (``AWS``, ``Service``)."""
        return {}

    def in_account(self) -> bool:
        """Whether the principal belongs to the local account (a Deny naming the account reaches it)."""
        return False


class Anonymous(Principal):
    """A request with no signature: only what a resource policy grants to ``*``."""


class Operator(Principal):
    """The operator's static credentials: the account itself, full access (no identity policy)."""

    def policies(self) -> None:
        return None

    def names(self) -> dict[str, list[str]]:
        return {"AWS": list(ACCOUNT_NAMES)}

    def in_account(self) -> bool:
        return True


class ServicePrincipal(Principal):
    """An AWS service acting for a resource of the account (the edge reading a bucket for a distribution): named by
    ``{"Service": ...}``, with ``aws:SourceArn`` and ``aws:SourceAccount`` saying for whom."""

    def __init__(self, service: str, source_arn: str) -> None:
        self.service, self.source_arn = service, source_arn

    def names(self) -> dict[str, list[str]]:
        return {"Service": [self.service]}

    def context_keys(self) -> dict[str, str | list[str]]:
        return {"aws:SourceArn": self.source_arn, "aws:SourceAccount": ACCOUNT}


class Role(Principal):
    """A role the platform acts as for an app's handlers (their Lambda execution role on AWS): what its policies
    allow, in the account. Its key pair lives as long as the running system."""

    def __init__(self, arn: str, policies: Sequence[dict[str, Any]]) -> None:
        self.arn, self._policies = arn, list(policies)

    def policies(self) -> Sequence[dict[str, Any]]:
        return self._policies

    def names(self) -> dict[str, list[str]]:
        return {"AWS": [self.arn]}

    def in_account(self) -> bool:
        return True


def new_access_key_id(prefix: str) -> str:
    """An access key id as AWS makes them: ``AKIA`` (long-lived) or ``ASIA`` (temporary) and 16 more."""
    return prefix + "".join(secrets.choice(_UPPER) for _ in range(16))


def new_secret() -> str:
    return secrets.token_urlsafe(30)[:40]


class Credentials:
    """Every credential the local endpoints accept; ``add_issuer`` adds a source of temporary ones."""

    def __init__(self, data_dir: Path) -> None:
        admin_file = data_dir / "admin-credentials.json"
        doc = orjson.loads(admin_file.read_bytes()) if admin_file.exists() else {}
        if set(doc) != {"access_key_id", "secret_access_key", "operator_token"}:  # made on first start (or completed)
            doc = {"access_key_id": doc.get("access_key_id") or new_access_key_id("AKIA"),
                   "secret_access_key": doc.get("secret_access_key") or new_secret(),
                   "operator_token": doc.get("operator_token") or secrets.token_urlsafe(32)}
            write_private(admin_file, orjson.dumps(doc))
        admin_file.chmod(0o600)
        self.admin = Credential(doc["access_key_id"], doc["secret_access_key"], principal=Operator())
        self.operator_token: str = doc["operator_token"]  # what the operations under /_stratus require
        self._issuers: list[Callable[[str], Credential | None]] = []
        self._roles: dict[str, Credential] = {}      # the platform's roles, by name
        self._role_keys: dict[str, Credential] = {}  # the same, by access key id

    def role(self, name: str, policies: Sequence[dict[str, Any]]) -> Credential:
        """The key pair of the platform's role ``name``, allowed ``policies``: derived from the operator's secret and
        the name, so it is the same after a restart (a form it signed stays good for as long as it says)."""
        return self._derived(name, lambda: Role(f"arn:aws:iam::{ACCOUNT}:role/{name}", policies))

    def service(self, service: str, source_arn: str) -> Credential:
        """The key pair an AWS service uses to act for a resource of the account (the edge reading a bucket through
        origin access control for the distribution ``source_arn``): derived as a role's is, named by the service."""
        return self._derived(f"service:{service}:{source_arn}", lambda: ServicePrincipal(service, source_arn))

    def _derived(self, name: str, principal: Callable[[], Principal]) -> Credential:
        """The platform's key pair named ``name`` (made once, kept by name and by key id) for ``principal()``."""
        if name not in self._roles:
            def derive(purpose: str) -> bytes:
                return hmac.new(self.admin.secret_access_key.encode(), f"role:{name}:{purpose}".encode(),
                                hashlib.sha256).digest()
            key_id = "AKIA" + base64.b32encode(derive("id")).decode()[:16]
            secret = base64.urlsafe_b64encode(derive("secret")).decode()[:40]
            cred = Credential(key_id, secret, principal=principal())
            self._roles[name] = self._role_keys[key_id] = cred
        return self._roles[name]

    def add_issuer(self, lookup: Callable[[str], Credential | None]) -> None:
        self._issuers.append(lookup)

    def lookup(self, access_key_id: str) -> Credential | None:
        if access_key_id == self.admin.access_key_id:
            return self.admin
        if access_key_id in self._role_keys:
            return self._role_keys[access_key_id]
        for issuer in self._issuers:
            found = issuer(access_key_id)
            if found is not None:
                return found
        return None


class Authorizer:
    """Decides a request for any principal: the operator may do anything, others what their policies allow."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def allowed(self, principal: object, action: str, resource: str, request_keys: Keys | None = None,
                resource_policy: Mapping[str, Any] | None = None,
                granted: Callable[[], bool] | None = None) -> bool:
        """Whether ``principal`` may do ``action`` on ``resource``; ``request_keys`` are the request's condition keys
        (``aws:SourceIp``, ``s3:prefix``, ...), ``resource_policy`` the policy on the resource (a bucket's),
        ``granted`` whether another grant (an S3 ACL's) allows it, asked only when no policy decides.

        As AWS decides within one account: an explicit Deny in either policy wins; otherwise an Allow in either
        (or the grant) allows. The operator (the account itself) needs no Allow, and may always change a
        resource's policy, as an account's root user may, whatever the policy says."""
        if not isinstance(principal, Principal):
            return False
        policies = principal.policies()
        if policies is None and (resource_policy is None or action.endswith("BucketPolicy")):
            return True
        now = self.clock.now()
        keys: dict[str, str | list[str]] = {
            "aws:SecureTransport": "true", "aws:EpochTime": str(int(now)),
            "aws:CurrentTime": dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **principal.context_keys(), **(request_keys or {})}
        ctx = RequestContext(action, resource, keys)
        mine = "Allow" if policies is None else evaluate(policies, ctx)
        theirs = "ImplicitDeny" if resource_policy is None else evaluate_resource(
            resource_policy, ctx, principal.names(), ACCOUNT_NAMES if principal.in_account() else ())
        if "ExplicitDeny" in (mine, theirs):
            return False
        return "Allow" in (mine, theirs) or (granted is not None and granted())
