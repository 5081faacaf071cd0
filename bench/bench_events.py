"""Benchmark: event delivery of `stratus up` against MiniStack's, and MyBlog's asynchronous paths.

Run from the repository root:  python bench/bench_events.py [--n 50] [--burst 1000] [--photos 20] [--posts 30]
(needs  pip install ministack  in the same environment)

Side by side in one run on this machine, both started by this script on loopback:
  stratus    `stratus up` of a small app (a table with a stream and a trigger on its inserts; a bucket with a
             trigger on its new objects), each handler appending the time it started to a file
  ministack  `python -m ministack`: a DynamoDB table with a stream and an event source mapping (LATEST) to a
             Python Lambda function, and a bucket whose notifications invoke the same function, which appends
             the time it started to a file in the same way (MiniStack runs it in a subprocess, no Docker)

1. write -> handler start: --n writes one after another, each waiting for its handler before the next; the
   latency is the handler's start (its own time.time()) less the moment the client began the write. Table
   writes go through what each offers a client: stratus's REST API (a route that puts the item, over HTTPS),
   MiniStack's DynamoDB API (plain HTTP). Object writes are boto3 PutObject to each S3 endpoint.
2. sustained events/s through one subscription: --burst table writes from 8 client threads while the handler is
   held (it waits while a gate file exists); then the gate goes, and the rate is the burst over the time from then
   to its last handler start: the subscription's own rate, not the writers'.
Then MyBlog (apps/blog) alone, on stratus (MiniStack runs no apps):
3. photo upload -> thumbnail visible: --photos uploads of a 1600x1200 JPEG by presigned POST; the time from the
   upload's start until a HEAD of its thumbnail succeeds.
4. global-table replication lag: --posts posts created in us-east-1; the time until a GET of each in eu-west-1
   answers 200 (a client's view), and the median lag the system itself reports (`stratus stats`).

Writes bench/results/events.json and prints the Markdown table for bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import textwrap
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import boto3  # noqa: E402
import httpx  # noqa: E402
from _common import HERE, ROOT, machine  # noqa: E402
from bench_s3 import PEER_REGION, ministack  # noqa: E402

from stratus.local.system import RunningSystem  # noqa: E402

BLOG = ROOT / "apps" / "blog"
PULSE = '''
import os, time
from stratus import App, Context, ObjectCreated, Request, TableChange

app = App("pulse")
items = app.table("items", partition_key="id", stream=True)
drop = app.bucket("drop")
api = app.rest_api("api")
OUT = os.environ["PULSE_OUT"]
GATE = OUT + ".gate"


def _mark(kind: str, key: str) -> None:
    while os.path.exists(GATE):  # the burst: held until all of it is written
        time.sleep(0.001)
    t = time.time()
    with open(OUT, "a") as f:
        f.write(f"{kind} {key} {t:.6f}\\n")


@app.on_table_change(items, kinds={"INSERT"}, timeout=60)
def on_item(change: TableChange, ctx: Context) -> None:
    _mark("table", change.keys["id"])


@app.on_object_created(drop)
def on_object(event: ObjectCreated, ctx: Context) -> None:
    _mark("object", event.key)


@api.put("/items/{id}", public=True, uses=[items])
def put_item(req: Request, ctx: Context) -> dict[str, str]:
    ctx.table(items).put({"id": req.path_params["id"]})
    return {}
'''
LAMBDA = '''
import os, time
OUT = {out!r}
GATE = OUT + ".gate"

def handler(event, context):
    while os.path.exists(GATE):  # the burst: held until all of it is written
        time.sleep(0.001)
    t = time.time()
    with open(OUT, "a") as f:
        for r in event.get("Records", []):
            if "dynamodb" in r:
                f.write("table %s %.6f\\n" % (r["dynamodb"]["Keys"]["id"]["S"], t))
            elif "s3" in r:
                f.write("object %s %.6f\\n" % (r["s3"]["object"]["key"], t))
'''


class Marks:
    """The handler start times the handlers wrote, by (kind, key)."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen, self._at = path, {}, 0
        path.touch()

    def read(self) -> dict[tuple[str, str], float]:
        with open(self.path) as f:
            f.seek(self._at)
            chunk = f.read()
        done = chunk.rfind("\n") + 1
        self._at += len(chunk[:done].encode())
        for line in chunk[:done].splitlines():
            kind, key, t = line.split()
            self.seen.setdefault((kind, key), float(t))  # the first start (a retry may come later)
        return self.seen

    def wait(self, kind: str, key: str, timeout: float = 30.0) -> float:
        end = time.monotonic() + timeout
        while (kind, key) not in self.read():
            if time.monotonic() > end:
                raise RuntimeError(f"no handler call for {kind} {key} within {timeout:.0f} s")
            time.sleep(0.001)
        return self.seen[(kind, key)]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000, 1)


def latencies(marks: Marks, kind: str, write: Callable[[str], None], n: int) -> dict[str, Any]:
    for i in range(3):  # warm-up: connections, code paths, a first cold call
        key = f"warm-{kind}-{i}-{uuid.uuid4().hex[:6]}"
        write(key)
        marks.wait(kind, key)
    got = []
    for i in range(n):
        key = f"lat-{kind}-{i}-{uuid.uuid4().hex[:6]}"
        t0 = time.time()
        write(key)
        got.append(marks.wait(kind, key) - t0)
    return {"n": n, "p50_ms": pct(got, 50), "p99_ms": pct(got, 99), "max_ms": pct(got, 100)}


def burst(marks: Marks, write: Callable[[str], None], m: int) -> dict[str, Any]:
    """``m`` changes written while the handler is held (it waits while a gate file exists), then let go: the rate
    is the subscription's own, not the writers'."""
    gate = Path(str(marks.path) + ".gate")
    gate.touch()
    keys = [f"burst-{i}-{uuid.uuid4().hex[:6]}" for i in range(m)]
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, keys))
        time.sleep(2.0)  # what was written is in the log (and, for a poller, seen)
    finally:
        released = time.time()
        gate.unlink()
    last = max(marks.wait("table", k, 300) for k in keys)
    took = last - released
    return {"events": m, "seconds": round(took, 3), "events_per_s": round(m / took, 1)}


def run_stratus(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    app_dir = tmp / "pulse"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(PULSE)
    marks = Marks(tmp / "stratus-marks.txt")
    os.environ["PULSE_OUT"] = str(marks.path)
    s = RunningSystem.start(tmp / "stratus", [app_dir])
    try:
        ep = s.endpoints
        api = ep["apps"]["pulse"]["api"]
        admin = ep["admin_credentials"]
        s3 = boto3.client("s3", endpoint_url=ep["aws_endpoint"], region_name=ep["region"], verify=ep["ca_file"],
                          aws_access_key_id=admin["access_key_id"], aws_secret_access_key=admin["secret_access_key"],
                          config=boto3.session.Config(s3={"addressing_style": "path"}))
        bucket = ep["apps"]["pulse"]["buckets"]["drop"]
        local = threading.local()

        def put_item(key: str) -> None:
            client = getattr(local, "http", None) or httpx.Client(verify=ep["ca_file"], timeout=30)
            local.http = client
            r = client.put(f"{api}/items/{key}", json={})
            assert r.status_code == 200, r.text

        def put_object(key: str) -> None:
            s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 1024)
        return {"table": latencies(marks, "table", put_item, args.n),
                "object": latencies(marks, "object", put_object, args.n),
                "burst": burst(marks, put_item, args.burst)}
    finally:
        s.stop()


def run_ministack(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    marks = Marks(tmp / "ministack-marks.txt")
    with ministack(tmp) as (s3, _pid):
        endpoint = s3.meta.endpoint_url
        kw = {"endpoint_url": endpoint, "region_name": PEER_REGION, "aws_access_key_id": "bench",
              "aws_secret_access_key": "bench-secret"}
        ddb, lam = boto3.client("dynamodb", **kw), boto3.client("lambda", **kw)
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("handler.py", textwrap.dedent(LAMBDA.format(out=str(marks.path))))
        fn = lam.create_function(FunctionName="pulse", Runtime="python3.12", Handler="handler.handler",
                                 Role="arn:aws:iam::000000000000:role/pulse", Code={"ZipFile": code.getvalue()},
                                 Timeout=3)["FunctionArn"]
        table = ddb.create_table(TableName="items", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                 AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                 BillingMode="PAY_PER_REQUEST",
                                 StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        lam.create_event_source_mapping(EventSourceArn=table["TableDescription"]["LatestStreamArn"],
                                        FunctionName="pulse", StartingPosition="LATEST", BatchSize=100,
                                        FilterCriteria={"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]})
        s3.create_bucket(Bucket="drop")
        s3.put_bucket_notification_configuration(Bucket="drop", NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:*"]}]})
        local = threading.local()

        def put_item(key: str) -> None:
            client = getattr(local, "ddb", None) or boto3.client("dynamodb", **kw)
            local.ddb = client
            client.put_item(TableName="items", Item={"id": {"S": key}})

        def put_object(key: str) -> None:
            s3.put_object(Bucket="drop", Key=key, Body=b"x" * 1024)
        return {"table": latencies(marks, "table", put_item, args.n),
                "object": latencies(marks, "object", put_object, args.n),
                "burst": burst(marks, put_item, args.burst)}


def run_blog(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    from PIL import Image

    from stratus._https import post_form
    s = RunningSystem.start(tmp / "blog", [BLOG])
    try:
        ep = s.endpoints
        entry = ep["apps"]["blog"]
        admin = ep["admin_credentials"]
        keys = {"aws_access_key_id": admin["access_key_id"], "aws_secret_access_key": admin["secret_access_key"]}
        idp = boto3.client("cognito-idp", endpoint_url=ep["aws_endpoint"], region_name=ep["region"],
                           verify=ep["ca_file"], **keys)
        s3 = boto3.client("s3", endpoint_url=ep["aws_endpoint"], region_name=ep["region"], verify=ep["ca_file"],
                          config=boto3.session.Config(s3={"addressing_style": "path"}), **keys)
        email = f"bench-{uuid.uuid4().hex[:6]}@example.com"
        idp.sign_up(ClientId=entry["user_pool_client_id"], Username=email, Password="Bench-Passw0rd")
        idp.admin_confirm_sign_up(UserPoolId=entry["user_pool_id"], Username=email)
        idp.admin_add_user_to_group(UserPoolId=entry["user_pool_id"], Username=email, GroupName="authors")
        token = idp.initiate_auth(ClientId=entry["user_pool_client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": email, "PASSWORD": "Bench-Passw0rd"}
                                  )["AuthenticationResult"]["AccessToken"]
        http = httpx.Client(verify=ep["ca_file"], timeout=30, headers={"authorization": f"Bearer {token}"})
        photo = io.BytesIO()
        Image.new("RGB", (1600, 1200), (40, 90, 160)).save(photo, "JPEG", quality=90)
        bucket = entry["buckets"]["photos"]
        thumbs = []
        for _ in range(args.photos):
            form = http.post(entry["api"] + "/photos").json()
            t0 = time.time()
            status, _body = post_form(form["url"], form["fields"], photo.getvalue(), "image/jpeg", ep["ca_file"])
            assert status == 204, status
            while True:
                try:
                    s3.head_object(Bucket=bucket, Key=form["thumbnail"])
                    break
                except s3.exceptions.ClientError:
                    time.sleep(0.002)
            thumbs.append(time.time() - t0)
        eu = httpx.Client(verify=ep["ca_file"], timeout=30)
        lags = []
        for i in range(args.posts):
            t0 = time.time()
            r = http.post(entry["regions"]["us-east-1"]["api"] + "/posts", json={"title": f"bench {i}", "body": "b"})
            assert r.status_code == 201, r.text
            slug = r.json()["slug"]
            while eu.get(entry["regions"]["eu-west-1"]["api"] + f"/posts/{slug}").status_code != 200:
                time.sleep(0.002)
            lags.append(time.time() - t0)
        stats = httpx.get(ep["aws_endpoint"] + "/_stratus/stats", verify=ep["ca_file"],
                          headers={"authorization": f"Bearer {ep['operator_token']}"}).json()
        reported = stats["apps"]["blog"]["regions"]["eu-west-1"]["replication"]["posts"]["p50_lag_ms"]
        return {"photo_to_thumbnail": {"n": args.photos, "p50_ms": pct(thumbs, 50), "p99_ms": pct(thumbs, 99)},
                "replication": {"n": args.posts, "client_p50_ms": pct(lags, 50), "client_p99_ms": pct(lags, 99),
                                "reported_p50_ms": reported}}
    finally:
        s.stop()


def table_md(doc: dict[str, Any]) -> str:
    st, ms = doc["results"]["stratus"], doc["results"]["ministack"]
    rows = ["| | stratus | MiniStack | stratus / MiniStack |", "|---|---|---|---|"]
    for kind, label in (("table", "table write -> handler start"), ("object", "object write -> handler start")):
        for q in ("p50_ms", "p99_ms"):
            rows.append(f"| {label}, {q[:3]} (ms) | {st[kind][q]} | {ms[kind][q]} | "
                        f"{st[kind][q] / ms[kind][q]:.2f}x |")
    rows.append(f"| sustained table events/s, one subscription | {st['burst']['events_per_s']} | "
                f"{ms['burst']['events_per_s']} | {st['burst']['events_per_s'] / ms['burst']['events_per_s']:.2f}x |")
    blog = doc["results"]["blog"]
    rows.append(f"| MyBlog photo upload -> thumbnail visible, p50 (ms) | {blog['photo_to_thumbnail']['p50_ms']} | - | - |")
    rows.append(f"| MyBlog replication us-east-1 -> eu-west-1, p50 as a client sees it (ms) | "
                f"{blog['replication']['client_p50_ms']} | - | - |")
    rows.append(f"| MyBlog replication lag the system reports, p50 (ms) | {blog['replication']['reported_p50_ms']} "
                "| - | - |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--burst", type=int, default=1000)
    ap.add_argument("--photos", type=int, default=20)
    ap.add_argument("--posts", type=int, default=30)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "events.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        results = {"stratus": run_stratus(Path(tmp), args), "ministack": run_ministack(Path(tmp), args),
                   "blog": run_blog(Path(tmp), args)}
    doc = {"machine": machine(), "versions": {"ministack": version("ministack")}, "args": vars(args) | {"out": None},
           "results": results}
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(table_md(doc))
    print(f"\nwrote {args.out}")



if __name__ == "__main__":
    main()
