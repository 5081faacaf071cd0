"""The app: one system's name and the resources it declares, in declaration order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError
from ._base import Resource, check_name
from .api import ApiCache, Handler, RestApi, Throttle
from .auth import HostedSignIn, IdentityPool, PasswordPolicy, UserPool
from .data import KeyAttr, Table, TableCache
from .edge import Behavior, BucketDeployment, Distribution, ErrorResponse
from .messaging import Email
from .storage import Bucket
from .triggers import ObjectTrigger, TableTrigger, Trigger, trigger_name

R = TypeVar("R", bound=Resource)


class App:
    """One system: a name and the resources it declares, in declaration order.

    An app folder's ``app.py`` defines ``app = App(name)`` and declares everything on it; declaring does
    no I/O. Every resource name is 1-40 of a-z, 0-9 and ``-``, starting with a letter, and unique per kind.

    - ``name``: the app's name (the same rule), under which ``stratus up`` serves it
      (``/_api/<app>/<api>``) and ``stratus synth`` names its CloudFormation stack and resources.
    """

    def __init__(self, name: str) -> None:
        self.name = check_name("app", name)
        self.resources: dict[str, Resource] = {}
        self.folder: Path | None = None  # where it was loaded from (set by the loader)
        self._handlers: dict[Handler, str] = {}  # shared by its APIs: each handler serves one route

    def add(self, resource: R) -> R:
        """Declare ``resource`` (what the other methods do); a second of the same kind and name is refused."""
        key = f"{resource.kind}:{resource.name}"
        if key in self.resources:
            raise ConfigError(f"app {self.name!r}: {resource.kind} {resource.name!r} is declared twice")
        self.resources[key] = resource
        return resource

    def user_pool(self, name: str, *, password_policy: PasswordPolicy | None = None,
                  clients: tuple[str, ...] = ("app",), auth_flows: tuple[str, ...] = ("user_srp", "user_password"),
                  groups: tuple[str, ...] = (), mfa: str = "off", hosted: HostedSignIn | None = None,
                  resource_servers: Mapping[str, tuple[str, ...]] | None = None,
                  machine_clients: Mapping[str, tuple[str, ...]] | None = None,
                  code_ttl: int = 24 * 3600, access_token_ttl: int = 3600,
                  id_token_ttl: int = 3600, refresh_token_ttl: int = 30 * 24 * 3600) -> UserPool:
        """Declare a user pool (a Cognito user pool): people sign up with their email address and a password,
        confirm with a code mailed to them, and sign in for tokens; an API's ``authorizer``.

        Clients talk to it with the Cognito Identity Provider API (boto3's ``cognito-idp``, the AWS SDKs,
        Amplify, pycognito): SignUp, ConfirmSignUp, InitiateAuth (``USER_SRP_AUTH`` with its
        ``PASSWORD_VERIFIER`` challenge, ``USER_PASSWORD_AUTH``, ``REFRESH_TOKEN_AUTH``), ForgotPassword and
        ConfirmForgotPassword (a reset code by mail), ChangePassword, GetUser, UpdateUserAttributes,
        GetUserAttributeVerificationCode, VerifyUserAttribute, GlobalSignOut, DeleteUser, RevokeToken, and the
        software token MFA operations. The operator's credentials (SigV4) reach the admin operations (AdminCreateUser,
        AdminGetUser, ListUsers, the groups' operations, ...).
        The email address is the user name (``UsernameAttributes=[email]``); ``cognito:username`` is the sub.
        On AWS the pool is named ``<app>-<name>``, and the token lifetimes are its app clients' token validity.

        - ``name``: the pool's name in the app.
        - ``password_policy``: a ``PasswordPolicy``, the pool's password policy on AWS; None (the default) is
          ``PasswordPolicy()``: at least 8 characters, with upper case, lower case and digits.
        - ``clients``: the names of its app clients, each with an id of its own (public clients, no secret);
          default one, ``("app",)``. ``endpoints.json`` lists their ids.
        - ``auth_flows``: the sign-ins its clients accept: ``"user_srp"`` (``USER_SRP_AUTH``: the password never
          leaves the client, what Amplify and the mobile SDKs use) and ``"user_password"``
          (``USER_PASSWORD_AUTH``); default both. Refreshing tokens is always allowed, as on Cognito. On AWS,
          the app clients' ``ExplicitAuthFlows``.
        - ``groups``: the pool's groups (``("authors",)``): a member's tokens carry ``cognito:groups``, and a route
          may require one (``requires_group=``). Members are added with AdminAddUserToGroup. Default none.
        - ``mfa``: ``"off"`` (the default), ``"optional"`` (each user may turn on a TOTP authenticator app) or
          ``"required"`` (every user sets one up at their first sign-in): the ``SOFTWARE_TOKEN_MFA`` challenge.
        - ``hosted``: a ``HostedSignIn``: the pool's domain, serving the OAuth 2.0 / OpenID Connect code flow
          (with PKCE) and a sign-in page to the app clients; default None (no domain).
        - ``resource_servers``: ``{identifier: (scope, ...)}``, the OAuth scopes of the pool's resource servers; a
          token carries one as ``<identifier>/<scope>``. Default none.
        - ``machine_clients``: ``{name: ("<server>/<scope>", ...)}``: app clients with a secret, for
          machine-to-machine calls (the ``client_credentials`` grant at ``/oauth2/token``, which needs
          ``hosted``), each allowed the scopes named. ``endpoints.json`` lists their ids; the operator reads a
          secret with DescribeUserPoolClient. Default none.
        - ``code_ttl``: seconds a mailed confirmation code is valid; default 86400 (one day), the only value
          Cognito has, so ``stratus synth`` refuses any other.
        - ``access_token_ttl``: seconds an access token (what the API takes) is valid, 300 to 86400; default 3600.
        - ``id_token_ttl``: seconds an ID token (what an identity pool takes) is valid, 300 to 86400; default 3600.
        - ``refresh_token_ttl``: seconds a refresh token is valid, 3600 to ten years; default 30 days.
        """
        policy = password_policy if password_policy is not None else PasswordPolicy()
        return self.add(UserPool(name, password_policy=policy, clients=clients, auth_flows=auth_flows,
                                 groups=groups, mfa=mfa, hosted=hosted, resource_servers=dict(resource_servers or {}),
                                 machine_clients=dict(machine_clients or {}), code_ttl=code_ttl,
                                 access_token_ttl=access_token_ttl, id_token_ttl=id_token_ttl,
                                 refresh_token_ttl=refresh_token_ttl))

    def table(self, name: str, *, partition_key: str | tuple[str, type] | KeyAttr,
              sort_key: str | tuple[str, type] | KeyAttr | None = None, stream: bool = False,
              cache: TableCache | None = None, regions: Iterable[str] = ()) -> Table:
        """Declare a key-value table (a DynamoDB table): handlers that name it in ``uses`` get ``ctx.table(t)``,
        a ``TablePort``.

        Locally it is an SQLite database in the data dir; on AWS a DynamoDB table, on-demand capacity,
        encrypted, point-in-time recovery on, kept when the stack is destroyed.

        - ``name``: the table's name in the app (CloudFormation names the real table).
        - ``partition_key``: the partition (hash) key attribute: its name (a string key), ``(name, int)``
          for a number key, or a ``KeyAttr``. Every item has it; a query reads one partition.
        - ``sort_key``: the sort (range) key attribute, the same way; None (the default): no sort key,
          one item per partition key. Items of a partition come back in sort key order.
        - ``stream``: record every change with the old and new item (DynamoDB Streams, ``NEW_AND_OLD_IMAGES``);
          default False.
        - ``cache``: a ``TableCache`` to read through a DAX-style cache (a DAX cluster on AWS, one per app,
          in a VPC of its own); None (the default): reads go to the table.
        - ``regions``: two or more AWS regions, the home region first, to make it a global table (DynamoDB
          global tables; ``TableV2`` replicas in a stack of the home region on AWS). Each region has its own
          store, and the app's REST APIs are served locally in each region too, reading and writing that
          region's replica (on AWS, in the home region only). A write in any region reaches the others
          asynchronously; of two writes to one item, the later (by write time) wins everywhere. The stream is
          on. Default: one region.
        """
        table = Table(name, partition_key, sort_key, stream=stream, cache=cache,  # type: ignore[arg-type]
                      regions=tuple(regions) if not isinstance(regions, str) else (regions,))
        homes = {t.home_region for t in self.resources.values() if isinstance(t, Table) and t.regions}
        if table.regions and homes and homes != {table.home_region}:
            raise ConfigError(f"table {name!r}: every global table of an app has the same home region (first), "
                              f"here {homes.pop()}")
        return self.add(table)

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region the app's global tables are in, the home region first; () when it has none."""
        found: list[str] = []
        for t in self.resources.values():
            if isinstance(t, Table):
                found += [r for r in t.regions if r not in found]
        return tuple(found)

    def rest_api(self, name: str, *, authorizer: UserPool | None = None, max_body: int = 1024 * 1024,
                 title: str = "", version: str = "1.0.0", cache: ApiCache | None = None,
                 throttle: Throttle | None = None) -> RestApi:
        """Declare a REST API (an API Gateway REST API); declare its routes with ``api.get(...)``,
        ``api.post(...)``, ...

        Locally it is served at ``https://<host>:<port>/_api/<app>/<name>``; on AWS it is a regional REST
        API with a stage (``prod`` unless ``stratus synth --stage``), access logs, and one Lambda function
        per route. Its OpenAPI document is at ``<api>/openapi.json``.

        - ``name``: the API's name in the app; on AWS the REST API is named ``<app>-<name>``.
        - ``authorizer``: the ``UserPool`` whose access tokens (``Authorization: Bearer <token>``) sign callers
          in: a Cognito user pools authorizer on AWS. A route that is not ``public=True`` needs one; None
          (the default): every route must be public.
        - ``max_body``: the largest request body in bytes, 1 byte to 10 MiB (API Gateway's limit); larger
          bodies are answered 413. Default 1 MiB.
        - ``title``: the title of its OpenAPI document and, on AWS, the REST API's description; default the name.
        - ``version``: the version of its OpenAPI document; default ``"1.0.0"``.
        - ``cache``: an ``ApiCache`` to cache GET answers (the stage's cache cluster on AWS); None (the
          default): no cache.
        - ``throttle``: a ``Throttle`` for the whole API (the stage's throttling on AWS); None (the default)
          is ``Throttle()``, AWS's account defaults (10,000 requests a second, bursts of 5,000).
        """
        return self.add(RestApi(name, authorizer=authorizer, max_body=max_body, title=title, version=version,
                                cache=cache, throttle=throttle if throttle is not None else Throttle(),
                                handlers=self._handlers))

    def bucket(self, name: str) -> Bucket:
        """Declare an object store bucket (an S3 bucket): handlers that name it in ``uses`` get
        ``ctx.bucket(b)``, an ``ObjectStorePort``; clients reach it only through policies that name it
        (an identity pool's ``authenticated_policy``, with ``bucket.arn``).

        Locally its objects are files in the data dir, served by the S3 endpoint of ``stratus up``; on AWS an
        S3 bucket, all public access blocked, encrypted, TLS only, kept when the stack is destroyed.

        - ``name``: the bucket's name in the app; the real name is chosen per provider (globally unique on
          AWS) and listed in ``endpoints.json`` under ``buckets``.
        """
        return self.add(Bucket(name))

    def identity_pool(self, name: str, *, user_pool: UserPool, authenticated_policy: dict[str, Any],
                      credential_ttl: int = 3600) -> IdentityPool:
        """Declare an identity pool (a Cognito identity pool): signed-in users trade their ID token for
        temporary AWS credentials (GetId, GetCredentialsForIdentity) to call S3 directly.

        - ``name``: the pool's name in the app; its id is in ``endpoints.json`` under ``identity_pools``.
        - ``user_pool``: the ``UserPool`` whose ID tokens it takes (all its clients); no unauthenticated
          identities.
        - ``authenticated_policy``: the IAM policy document of the authenticated role, as written on AWS
          (``{"Version": ..., "Statement": [...]}``); ``bucket.arn`` names a declared bucket and
          ``${cognito-identity.amazonaws.com:sub}`` the caller's identity id, to confine each user to a folder.
          Locally the policy is evaluated as IAM evaluates it.
        - ``credential_ttl``: seconds the credentials are valid, 900 to 43200; default 3600, the only value
          Cognito issues, so ``stratus synth`` refuses any other.
        """
        return self.add(IdentityPool(name, user_pool, authenticated_policy, credential_ttl=credential_ttl))

    def email(self, name: str, *, sender: str) -> Email:
        """Declare sending email (SES) from one address: handlers that name it in ``uses`` get ``ctx.mailer``.

        Locally mail goes to the data dir's outbox (``stratus mail`` lists it) or to ``stratus up --smtp``;
        on AWS through SES, and the function's role may send from ``sender`` only.

        - ``name``: its name in the app.
        - ``sender``: the address mail is sent from, a plain email address; on AWS it (or its domain) must be
          an identity the account has verified in SES, once.
        """
        return self.add(Email(name, sender))

    def distribution(self, name: str, *, default: Behavior, behaviors: Iterable[Behavior] = (),
                     default_root_object: str = "", error_responses: Iterable[ErrorResponse] = (),
                     logs: Bucket | None = None, logs_prefix: str = "", cache_bytes: int = 256 * 1024 * 1024,
                     disk_bytes: int = 4 * 1024**3) -> Distribution:
        """Declare a caching edge (a CloudFront distribution) serving viewers from the app's buckets, REST APIs or
        any web server.

        Locally it is served at the root of its own HTTPS origin (a port of its own, ``endpoints.json``'s
        ``apps.<app>.distributions.<name>.url``), with a cache in memory and on disk; on AWS a CloudFront
        distribution (TLS 1.2 at least, HTTPS only, a response headers policy with HSTS and the usual security
        headers). ``stratus invalidate`` drops cached paths; ``stratus stats`` shows its hit ratio and traffic.

        - ``name``: its name in the app.
        - ``default``: the ``Behavior`` for requests no other behavior's path pattern fits.
        - ``behaviors``: ``Behavior`` s with path patterns, tried in order before the default.
        - ``default_root_object``: the object viewers get for ``/`` (``"index.html"``); default none.
        - ``error_responses``: ``ErrorResponse`` s: a page (and status) for an origin's error status.
        - ``logs``: a bucket of the app for access logs in CloudFront's standard format (gzip files named
          ``<prefix><id>.YYYY-MM-DD-HH.<unique>.gz``); default none.
        - ``logs_prefix``: the logs' key prefix (``"edge/"``).
        - ``cache_bytes``: what the local cache may keep in memory (small answers); default 256 MiB.
        - ``disk_bytes``: what it may keep on disk (answers of 1 MiB and more); default 4 GiB. Either bound drops
          the least recently used answers first. (CloudFront's own cache is not sized; these are local only.)
        """
        return self.add(Distribution(name, default, tuple(behaviors), default_root_object, tuple(error_responses),
                                     logs, logs_prefix, cache_bytes=cache_bytes, disk_bytes=disk_bytes))

    def deploy_folder(self, name: str, *, bucket: Bucket, source: str, distribution: Distribution | None = None,
                      cache_control: Mapping[str, str] | None = None) -> BucketDeployment:
        """Declare a folder of the app copied into a bucket (CDK's ``BucketDeployment``): a static site's files.

        Locally it is copied at ``stratus up`` and again whenever a file changes while it runs; on AWS by
        CloudFormation, at each deploy. Each file gets its ``Content-Type`` (from its name) and a
        ``Cache-Control``; files gone from the folder are deleted from the bucket; the paths that changed are
        invalidated in ``distribution``.

        - ``name``: its name in the app.
        - ``bucket``: the declared ``Bucket`` it is copied into (at the bucket's root).
        - ``source``: the folder, relative to the app's folder (``"site"``).
        - ``distribution``: the ``Distribution`` that serves the bucket, whose cache the changed paths are dropped
          from; default none.
        - ``cache_control``: ``{file pattern: Cache-Control}`` tried in order (``{"*.html": "no-cache"}``); a file
          no pattern fits gets ``public, max-age=31536000, immutable`` when its name is fingerprinted
          (``site.1a2b3c4d.css``: 8 or more hex digits before the extension), ``public, max-age=60`` for HTML,
          else ``public, max-age=3600``.
        """
        return self.add(BucketDeployment(name, bucket, source, distribution, tuple((cache_control or {}).items())))

    def on_table_change(self, table: Table, *, kinds: Iterable[str] = ("INSERT", "MODIFY", "REMOVE"),
                        uses: Iterable[Resource] = (), timeout: float = 3.0,
                        max_attempts: int | None = None) -> Callable[[Handler], Handler]:
        """Declare the handler of a table's changes: a decorator for ``handler(change, ctx)``, which gets each
        ``TableChange`` of ``table`` (declared with ``stream=True``) whose kind is in ``kinds``.

        Delivery is at least once: a change is committed with the write that makes it, and handed to the handler
        until it returns without raising, so a handler that must act once keys its work by ``change.event_id``.
        Changes of one item come in the order they were written; a write that changes nothing makes none. A
        change that fails holds back later changes of its item (never other items'), is tried again with backoff,
        and after ``max_attempts`` (or 24 hours) is kept as a dead letter: ``stratus dead-letters`` lists them,
        ``stratus redrive`` sends them again. On AWS: a DynamoDB stream, a Lambda function with an event source
        mapping (its ``kinds`` as a filter) and an SQS queue for what fails.

        - ``table``: the declared ``Table``.
        - ``kinds``: which changes: ``"INSERT"``, ``"MODIFY"``, ``"REMOVE"``; default all three.
        - ``uses``: the resources the handler uses (its ``ctx`` hands it those and no other), as a route's.
        - ``timeout``: seconds a call may run, more than 0 and at most 900; default 3, as Lambda's. One that runs
          past it has failed.
        - ``max_attempts``: tries of one change before it is a dead letter, 1 to 10,000; default None: until it
          is 24 hours old, as Lambda retries a stream's records.

        The trigger's name (for ``stratus redrive``) is the handler's, with ``-`` for ``_``.
        """
        def register(handler: Handler) -> Handler:
            self._add_trigger(TableTrigger(trigger_name(handler), handler, tuple(uses), timeout, max_attempts, table=table,
                                  kinds=frozenset(kinds)))
            return handler
        return register

    def on_object_created(self, bucket: Bucket, *, prefix: str = "", suffix: str = "",
                          uses: Iterable[Resource] = (), timeout: float = 3.0,
                          max_attempts: int | None = 3, writes: Iterable[str] = ()) -> Callable[[Handler], Handler]:
        """Declare the handler of a bucket's new objects: a decorator for ``handler(event, ctx)``, which gets an
        ``ObjectCreated`` for each object written under ``prefix`` with ``suffix``, whoever wrote it (the S3
        endpoint, a presigned URL or form upload, a handler), once it is stored.

        Delivered as a table's changes are (``on_table_change``): at least once, in order per key, with retries
        and then dead letters. On AWS: an S3 event notification to a Lambda function, with the prefix and suffix
        as its filter, two retries and an SQS queue for what fails.

        - ``bucket``: the declared ``Bucket``.
        - ``prefix``, ``suffix``: what a key starts and ends with to count (``"uploads/"``, ``".jpg"``); default
          any. A handler that uses the bucket it is called for needs one of them, so what it writes (elsewhere)
          does not call it again: it may not write (put, delete) keys its own events come from.
        - ``uses``, ``timeout``: as ``on_table_change``'s.
        - ``writes``: the key prefixes (``"thumbnails/"``) it writes under in its own bucket (which ``uses`` must
          list): it may write nowhere else there, and on AWS its role may not either. A prefix that its own
          ``prefix`` overlaps is refused when the app is loaded. Default none declared: anywhere but where its own
          events come from.
        - ``max_attempts``: tries of one event before it is a dead letter; default 3, as Lambda tries an S3
          notification (two retries). None: until the event is 24 hours old.
        """
        def register(handler: Handler) -> Handler:
            self._add_trigger(ObjectTrigger(trigger_name(handler), handler, tuple(uses), timeout, max_attempts,
                                            bucket=bucket, events="created", prefix=prefix, suffix=suffix,
                                            writes=tuple(writes) if not isinstance(writes, str) else (writes,)))
            return handler
        return register

    def on_object_removed(self, bucket: Bucket, *, prefix: str = "", suffix: str = "",
                          uses: Iterable[Resource] = (), timeout: float = 3.0,
                          max_attempts: int | None = 3) -> Callable[[Handler], Handler]:
        """Declare the handler of a bucket's removed objects: as ``on_object_created``, with an ``ObjectRemoved``
        for each object deleted (in a versioned bucket: each delete marker made, each version deleted).

        - ``bucket``: the declared ``Bucket``.
        - ``prefix``, ``suffix``: what a key starts and ends with to count; default any.
        - ``uses``, ``timeout``: as ``on_table_change``'s.
        - ``max_attempts``: tries of one event before it is a dead letter; default 3. None: until it is 24 hours
          old.
        """
        def register(handler: Handler) -> Handler:
            self._add_trigger(ObjectTrigger(trigger_name(handler), handler, tuple(uses), timeout, max_attempts,
                                            bucket=bucket, events="removed", prefix=prefix, suffix=suffix))
            return handler
        return register

    def _add_trigger(self, trigger: Trigger) -> None:
        """Declare a trigger: its name (its handler's) is its own among every kind of trigger, as it names it to
        ``stratus redrive`` and ``logs``."""
        if any(r.name == trigger.name for r in self.resources.values() if isinstance(r, Trigger)):
            raise ConfigError(f"app {self.name!r}: a trigger named {trigger.name!r} is declared twice; a handler "
                              "serves one trigger: declare another function")
        self.add(trigger)

    def of_kind(self, cls: type[R]) -> list[R]:
        """The declared resources of class ``cls``, in declaration order."""
        return [r for r in self.resources.values() if isinstance(r, cls)]

    def resource(self, kind: str, name: str) -> Resource | None:
        """The declared resource of ``kind`` named ``name``, if any."""
        return self.resources.get(f"{kind}:{name}")

    def __repr__(self) -> str:
        return f"<App {self.name!r}: {', '.join(self.resources)}>"
