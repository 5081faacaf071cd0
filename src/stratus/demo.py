"""``stratus demo``: each app toured the way its clients use it, on a local system or on AWS.

Each app brings its own tour, ``tour.py`` beside its ``app.py``, defining
``tour(t: Tour, target: Target, app: str)``: the steps its clients take, with the clients
they would use (boto3 for Cognito and S3, plain HTTPS for REST APIs). A step passes only
if the answer is the one AWS would give; the tour prints each step with its latency and
``stratus demo`` exits non-zero if any failed.

By default the demo starts a fresh local system with every app that has a tour, tours
them, and stops it. Given an endpoints file it tours a system that is already running
instead: the ``endpoints.json`` a ``stratus up`` writes into its data dir, or the one a
deployment to AWS writes. The tours are the same for both; what differs is gathered in
one ``Target`` built from that file, which a tour asks for its clients and for the steps
that confirm a sign-up:

- locally, clients go to the system's endpoint and trust only its CA, S3 is
  addressed path-style, a sign-up is confirmed with the code read from the mail
  outbox, and the gateway tells a cache hit by its ``x-stratus-cache`` header;
- on AWS, clients use AWS's own endpoints and the system trust store, a sign-up
  is confirmed by the caller as an admin (``AdminConfirmSignUp``, with their
  ambient AWS credentials), API Gateway does not show its cache, and the tour
  deletes its users at the end so a deployment keeps none.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import orjson

from ._https import HttpsJson
from .errors import StratusError
from .loader import load_module
from .local.services.ses.mailers import latest_code
from .local.system import RunningSystem

Step = tuple[str, Callable[[], Any]]  # a title and what the step does


class Tour:
    def __init__(self) -> None:
        self.failed = 0
        self.passed = 0

    def step(self, title: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            result = fn()
            ok, detail = True, ""
        except Exception as exc:  # a failed step is reported, and the tour goes on where it can
            result, ok, detail = None, False, f"  ({type(exc).__name__}: {exc})"
        ms = (time.perf_counter() - t0) * 1000
        print(f"  {'PASS' if ok else 'FAIL'}  {ms:8.1f} ms  {title}{detail}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return result


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


# -- where the tour runs


class Invalid(Exception):
    """An endpoints document without a field a tour needs (the field's dotted path)."""


def field(doc: Any, path: str) -> Any:
    """The value at a dotted ``path`` of an endpoints document; ``Invalid`` if it is not there."""
    node = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise Invalid(path)
        node = node[key]
    return node


def text(doc: Any, path: str) -> str:
    """A non-empty string at a dotted ``path``; ``Invalid`` otherwise."""
    value = field(doc, path)
    if not isinstance(value, str) or not value:
        raise Invalid(path)
    return value


@dataclass(frozen=True)
class Target:
    """A running system a tour walks, and the few ways a local one and one on AWS differ.

    Each field is one decision, made once from the endpoints document; a tour reads them
    through ``client``, ``https``, ``confirmation`` and ``cleanup`` and never asks which kind
    of system it is on.
    """

    where: str                # what the tour's header says it is touring
    region: str
    doc: dict[str, Any]       # the endpoints document
    path: Path                # where it was read
    endpoint_url: str | None  # every service's endpoint; None: AWS's own endpoints
    ca_file: str | None       # the CA to trust; None: the system trust store
    s3_path_style: bool       # path-style S3 addressing (one local host); else boto3's default, virtual-hosted
    outbox: Path | None       # where confirmation codes are mailed; None: confirm sign-ups as an admin
    cache_header: str | None  # the API response header that tells a cache hit; None: the cache is not observable
    delete_users: bool        # delete the tour's users at the end, so a deployment keeps no demo users

    @classmethod
    def load(cls, path: Path) -> Target:
        """The target an endpoints file describes; a ``StratusError`` saying what is wrong if it cannot be used."""
        return cls.from_endpoints(read_endpoints(path), path)

    @classmethod
    def from_endpoints(cls, doc: dict[str, Any], path: Path) -> Target:
        """The target ``doc`` describes; ``path`` is where it was read (a local system's outbox is beside it)."""
        try:
            if doc.get("provider") == "aws":
                return cls._aws(doc, path)
            if "provider" in doc:
                raise StratusError(f"{path} is for provider {doc['provider']!r}; the demo knows local and aws")
            if "aws_endpoint" not in doc:
                raise StratusError(f"{path} is neither a local endpoints file (with aws_endpoint) nor an AWS one "
                                   "(with provider: aws)")
            return cls._local(doc, path)
        except Invalid as exc:
            raise StratusError(f"{path} is not a usable endpoints file: it has no {exc}") from None

    @classmethod
    def _local(cls, doc: dict[str, Any], path: Path) -> Target:
        ca_file = text(doc, "ca_file")
        if not Path(ca_file).is_file():
            raise StratusError(f"{path} names the CA file {ca_file}, which is gone; is the system still up?")
        endpoint = text(doc, "aws_endpoint")
        return cls(where=f"the local system at {endpoint}", region=text(doc, "region"), doc=doc, path=path,
                   endpoint_url=endpoint, ca_file=ca_file, s3_path_style=True, outbox=path.parent / "outbox",
                   cache_header="x-stratus-cache", delete_users=False)

    @classmethod
    def _aws(cls, doc: dict[str, Any], path: Path) -> Target:
        from .aws.deploy.credentials import check_credentials
        region, stack = text(doc, "region"), doc.get("stack")
        check_credentials()  # sign-ups are confirmed, and the tour's users deleted, with the caller's credentials
        return cls(where=f"{'stack ' + stack if isinstance(stack, str) else 'a deployment'} on AWS ({region})",
                   region=region, doc=doc, path=path, endpoint_url=None, ca_file=None, s3_path_style=False,
                   outbox=None, cache_header=None, delete_users=True)

    def app(self, name: str) -> dict[str, Any]:
        """The endpoints document's entry for app ``name``."""
        entry = self.doc.get("apps", {}).get(name) if isinstance(self.doc.get("apps"), dict) else None
        if not isinstance(entry, dict):
            raise Invalid(f"apps.{name}")
        return entry

    def client(self, service: str, **credentials: Any) -> Any:
        """A boto3 client for ``service`` on this target, with the ``aws_*`` credentials given, if any."""
        import boto3
        from botocore.config import Config

        opts: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url is not None:
            opts["endpoint_url"] = self.endpoint_url
        if self.ca_file is not None:
            opts["verify"] = self.ca_file
        if service == "s3" and self.s3_path_style:
            opts["config"] = Config(s3={"addressing_style": "path"})
        return boto3.client(service, **opts, **credentials)

    def admin(self, service: str) -> Any:
        """A boto3 client for ``service`` as the operator: a local system's admin credentials, or on AWS the
        caller's own."""
        creds = self.doc.get("admin_credentials") if self.endpoint_url is not None else None
        if isinstance(creds, dict):
            return self.client(service, aws_access_key_id=creds.get("access_key_id"),
                               aws_secret_access_key=creds.get("secret_access_key"))
        return self.client(service)

    def https(self, base_url: str) -> HttpsJson:
        """An HTTPS JSON client for a REST API of the target."""
        return HttpsJson(base_url, self.ca_file)

    def object_url(self, bucket: str, key: str) -> str:
        """Where a bucket's object is read directly, without credentials (S3's own address on AWS)."""
        if self.endpoint_url is not None:
            return f"{self.endpoint_url}/{bucket}/{key}"
        return f"https://{bucket}.s3.{self.region}.amazonaws.com/{key}"

    def flush_api_cache(self, app: str, api_url: str) -> None:
        """Empty the stage cache of the REST API at ``api_url`` (``stratus flush-cache`` locally, FlushStageCache on
        AWS), with the operator's rights."""
        if self.endpoint_url is not None:
            status, doc = HttpsJson(self.endpoint_url, self.ca_file).call(
                "POST", "/_stratus/cache/flush", headers={"authorization": f"Bearer {self.doc.get('operator_token', '')}",
                                                          "x-stratus-app": app})
            if status != 200:
                raise AssertionError(f"the flush answered {status}: {doc}")
            return
        host, _, stage = api_url.removeprefix("https://").partition("/")
        self.client("apigateway").flush_stage_cache(restApiId=host.split(".", 1)[0], stageName=stage.strip("/"))

    def invalidate(self, app: str, name: str, paths: list[str]) -> str:
        """Drop ``paths`` from distribution ``name`` of ``app``'s cache, done when this returns: ``stratus invalidate``
        locally, CreateInvalidation (and its waiter) on AWS, with the operator's rights. What it reported."""
        if self.endpoint_url is not None:
            status, doc = HttpsJson(self.endpoint_url, self.ca_file).call(
                "POST", "/_stratus/invalidate", {"app": app, "distribution": name, "paths": paths},
                headers={"authorization": f"Bearer {self.doc.get('operator_token', '')}"})
            if status != 200:
                raise AssertionError(f"the invalidation answered {status}: {doc}")
            return f"{doc['id']}: {doc['status']}"
        dist_id = text(self.app(app), f"distributions.{name}.id")
        cloudfront = self.client("cloudfront")
        made = cloudfront.create_invalidation(DistributionId=dist_id, InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": str(time.time_ns())})
        inv = made["Invalidation"]["Id"]
        cloudfront.get_waiter("invalidation_completed").wait(DistributionId=dist_id, Id=inv)
        return f"{inv}: Completed"

    def confirmation(self, idp: Any, who: str, email: str, pool_id: str, client_id: str) -> list[Step]:
        """The steps that confirm ``email``'s sign-up: with the mailed code, or as an admin where no mail is read."""
        if self.outbox is None:
            return [(f"{who}: confirm the sign-up as an admin, with your AWS credentials (AdminConfirmSignUp)",
                     lambda: idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=email))]
        outbox = self.outbox
        codes: list[str] = []
        return [(f"{who}: read the confirmation code from the mail outbox",
                 lambda: codes.append(latest_code(outbox, email))),
                (f"{who}: confirm the sign-up with the code (ConfirmSignUp)",
                 lambda: idp.confirm_sign_up(ClientId=client_id, Username=email, ConfirmationCode=codes[-1]))]

    def cleanup(self, idp: Any, pool_id: str, emails: list[str]) -> list[Step]:
        """The steps that remove what the tour left behind, where it must not stay."""
        if not self.delete_users or not emails:
            return []

        def delete() -> None:
            for email in emails:
                idp.admin_delete_user(UserPoolId=pool_id, Username=email)
        return [(f"delete the tour's {len(emails)} users, with your AWS credentials (AdminDeleteUser)", delete)]


def read_endpoints(path: Path) -> dict[str, Any]:
    """An endpoints document, read; a one-line ``StratusError`` when it is missing, unreadable or not one."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StratusError(f"no endpoints file at {path}; start a system with `stratus up` (or deploy one) "
                           "first") from None
    except OSError as exc:
        raise StratusError(f"cannot read the endpoints file {path}: {exc.strerror or exc}") from exc
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StratusError(f"{path} is not an endpoints file: not JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise StratusError(f"{path} is not an endpoints file: not a JSON object")
    return doc


# -- finding the tours


def tour_of(folder: Path) -> ModuleType | None:
    """An app folder's tour module (``tour.py``), or None when it has none.

    It defines ``tour(t, target, app)``, and may define ``endpoints(entry)``, which reads what the tour needs
    from the app's entry in an endpoints document (raising ``Invalid`` for a missing field), so an unusable
    document is refused before any system or account is touched.
    """
    if not (folder / "tour.py").is_file():
        return None
    module = load_module(folder, "tour")
    if not callable(getattr(module, "tour", None)):
        raise StratusError(f"{folder / 'tour.py'} must define tour(t, target, app)")
    return module


def _tour_apps(tour: Tour, target: Target, folders: dict[str, Path]) -> None:
    for name, folder in folders.items():
        module = tour_of(folder)
        assert module is not None
        try:
            module.tour(tour, target, name)
        except Invalid as exc:
            raise StratusError(f"{target.path} is not a usable endpoints file: it has no {exc}") from None


def run_demo(apps_dir: Path | None = None, keep: bool = False, *, endpoints: Path | None = None) -> int:
    """Tour a fresh local system, or (``endpoints``) the running one that file describes; 0 if every step passed.

    ``apps_dir`` is where the apps and their tours are (default ``./apps``; for a local endpoints file, the folders
    the system runs its apps from). ``keep`` keeps the fresh system's data dir.
    """
    tour = Tour()
    if endpoints is not None:
        doc = read_endpoints(endpoints)
        folders = _folders(doc, endpoints, apps_dir)
        for name, folder in folders.items():
            check = getattr(tour_of(folder), "endpoints", None)
            try:
                if check is not None:
                    check(doc["apps"][name])
            except Invalid as exc:
                raise StratusError(f"{endpoints} is not a usable endpoints file: it has no {exc}") from None
        target = Target.from_endpoints(doc, endpoints)
        print(f"touring {target.where}, as {endpoints} describes it")
        _tour_apps(tour, target, folders)
        return _summary(tour)
    apps_dir = apps_dir or Path("apps")
    folders = {f.name: f for f in sorted(apps_dir.iterdir()) if (f / "app.py").is_file() and (f / "tour.py").is_file()} \
        if apps_dir.is_dir() else {}
    if not folders:
        raise StratusError(f"no app with a tour (tour.py) under {apps_dir.resolve()}; run from the repository root "
                           "or pass --apps-dir")
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in before:  # Ctrl-C or `kill`: the demo stops, with its system and folder
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _stopping)
    data_dir = Path(tempfile.mkdtemp(prefix="stratus-demo-"))
    started: list[RunningSystem] = []  # its system, from the moment its process exists
    stopping = False
    try:
        print(f"starting a fresh system in {data_dir}" + (" (kept afterwards)" if keep else
                                                          " (removed afterwards; --keep keeps it)"))
        system = tour.step("stratus up: HTTPS with a new local CA, ready to serve",
                           lambda: RunningSystem.start(data_dir, list(folders.values()), started=started))
        if system is not None:
            _tour_apps(tour, Target.from_endpoints(system.endpoints, data_dir / "endpoints.json"), folders)
    except BaseException:  # a signal (or a failure) already decides how the demo ends
        stopping = True
        raise
    finally:
        late = _hold_signals()  # a Ctrl-C or SIGTERM now waits for the clean-up (bounded: stop ends in SIGKILL)
        for running in started:
            running.stop()
        if keep:
            print(f"data dir kept: {data_dir} (`stratus up <apps> --data-dir {data_dir}` serves it again)")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
            print(f"removed {data_dir}")
        for sig, handler in before.items():  # the demo is over: signals do again what they did before it
            signal.signal(sig, handler)
        if late and not stopping:  # a signal during the clean-up alone: the demo ends as it asked
            raise SystemExit(128 + late[0])
    return _summary(tour)


def _hold_signals() -> list[int]:
    """From now on Ctrl-C and SIGTERM (where not ignored) are only noted, in the list returned."""
    late: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, lambda signum, frame: late.append(signum))
    return late


def _stopping(signum: int, frame: FrameType | None) -> None:
    """The first Ctrl-C or SIGTERM stops the demo (130 or 143); any after it wait for the clean-up."""
    _hold_signals()
    raise SystemExit(128 + signum)


def _folders(doc: dict[str, Any], path: Path, apps_dir: Path | None) -> dict[str, Path]:
    """Each app of the endpoints document that has a tour, and its folder: under ``apps_dir`` if given, else where a
    local system runs it from (``app_dirs`` in its endpoints file), else under ./apps."""
    local: dict[str, Any] = doc["app_dirs"] if isinstance(doc.get("app_dirs"), dict) else {}
    apps = sorted(doc["apps"]) if isinstance(doc.get("apps"), dict) else []
    folders = {}
    for name in apps:
        folder = apps_dir / name if apps_dir else Path(local[name]) if isinstance(local.get(name), str) \
            else Path("apps") / name
        if (folder / "tour.py").is_file():
            folders[name] = folder
    if not folders:
        raise StratusError(f"{path} describes no app with a tour (apps: {', '.join(apps) or 'none'}); "
                           "pass --apps-dir where the apps' tour.py files are")
    return folders


def _summary(tour: Tour) -> int:
    print(f"\n{tour.passed} passed, {tour.failed} failed")
    return 1 if tour.failed else 0
