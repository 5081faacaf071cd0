"""Benchmark: one tenant's burst against another's calls.

Run from the repository root:  python bench/bench_isolation.py [--seconds 6] [--copy-mib 128] [--label NAME]

On one `stratus up apps/todo`, each over HTTPS on loopback:
  (1) identity-pool GetId, one client calling back to back: alone, then while 16 other clients
      sign in with wrong passwords for names never seen (each sign-in costs a password hash);
  (2) the REST API (POST /todos, a handler every time), one client: alone, then while 12 other
      clients copy a --copy-mib object within S3 back to back (CopyObject).
Each reports the median, p99 and worst latency, and how much work the burst did meanwhile.

Writes bench/results/isolation.json (keyed by --label, so runs of two versions side by side
land in one file) and prints a Markdown row per measurement for bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import boto3  # noqa: E402
import httpx  # noqa: E402
from _common import HERE, ROOT, machine  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from stratus.local.system import RunningSystem  # noqa: E402

TODO = ROOT / "apps" / "todo"
PASSWORD = "Bench-Passw0rd"


def latencies(call: Callable[[], Any], seconds: float) -> dict[str, float]:
    spent = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        call()
        spent.append((time.perf_counter() - t0) * 1000)
    spent.sort()
    return {"calls": len(spent), "p50_ms": round(statistics.median(spent), 2),
            "p99_ms": round(spent[int(len(spent) * 0.99)], 2), "max_ms": round(spent[-1], 2)}


def during(burst: Callable[[threading.Event], int], threads: int, measure: Callable[[], dict[str, float]]
           ) -> dict[str, Any]:
    stop = threading.Event()
    with ThreadPoolExecutor(threads) as pool:
        running = [pool.submit(burst, stop) for _ in range(threads)]
        time.sleep(1.0)  # the burst under way
        t0 = time.perf_counter()
        out: dict[str, Any] = dict(measure())
        elapsed = time.perf_counter() - t0
        stop.set()
        done = sum(f.result() for f in running)
    out["burst_per_s"] = round(done / (elapsed + 1.0), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each measurement")
    ap.add_argument("--copy-mib", type=int, default=128, help="size of the object the copy burst copies")
    ap.add_argument("--label", default="current", help="the key this run's figures are kept under")
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    s = RunningSystem.start(d, [TODO])
    try:
        ep, todo = s.endpoints, s.endpoints["apps"]["todo"]
        kw: dict[str, Any] = {"endpoint_url": ep["aws_endpoint"], "region_name": ep["region"], "verify": ep["ca_file"]}
        once = Config(retries={"total_max_attempts": 1}, max_pool_connections=32)
        idp = boto3.client("cognito-idp", **kw)
        client_id = todo["user_pool_client_id"]
        email = f"bench-{time.time_ns()}@example.com"
        idp.sign_up(ClientId=client_id, Username=email, Password=PASSWORD)
        idp.confirm_sign_up(ClientId=client_id, Username=email, ConfirmationCode=s.latest_code(email))
        tokens = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]
        identity = boto3.client("cognito-identity", **kw)
        provider = todo["user_pools"]["users"]["issuer"].split("://", 1)[1]

        def get_id() -> None:
            identity.get_id(IdentityPoolId=todo["identity_pool_id"], Logins={provider: tokens["IdToken"]})

        def flood(stop: threading.Event) -> int:
            c, n = boto3.client("cognito-idp", config=once, **kw), 0
            while not stop.is_set():
                try:
                    c.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": f"{uuid.uuid4().hex}@example.com", "PASSWORD": "x"})
                except ClientError:
                    pass
                n += 1
            return n

        http = httpx.Client(verify=ssl.create_default_context(cafile=ep["ca_file"]), timeout=60)
        auth = {"authorization": f"Bearer {tokens['AccessToken']}"}

        def post() -> None:
            http.post(todo["api"] + "/todos", json={"title": "t"}, headers=auth).raise_for_status()

        admin = ep["admin_credentials"]
        s3 = boto3.client("s3", config=Config(max_pool_connections=32, s3={"addressing_style": "path"}),
                          aws_access_key_id=admin["access_key_id"], aws_secret_access_key=admin["secret_access_key"],
                          **kw)
        bucket = todo["buckets"]["files"]
        s3.put_object(Bucket=bucket, Key="big.bin", Body=b"\1" * (args.copy_mib << 20))

        def copies(stop: threading.Event) -> int:
            name, n = uuid.uuid4().hex, 0
            while not stop.is_set():
                s3.copy_object(Bucket=bucket, Key=f"copies/{name}", CopySource={"Bucket": bucket, "Key": "big.bin"})
                n += 1
            return n

        get_id(), post()  # warm
        figures = {
            "get_id_alone": latencies(get_id, args.seconds),
            "get_id_during_login_flood_16": during(flood, 16, lambda: latencies(get_id, args.seconds)),
            "rest_alone": latencies(post, args.seconds),
            f"rest_during_copies_12x{args.copy_mib}MiB": during(copies, 12, lambda: latencies(post, args.seconds)),
        }
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)
    out_file = HERE / "results" / "isolation.json"
    doc = json.loads(out_file.read_text()) if out_file.exists() else {}
    doc[args.label] = {"machine": machine(), "recorded": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                       "seconds": args.seconds, "figures": figures}
    out_file.write_text(json.dumps(doc, indent=2) + "\n")
    for what, f in figures.items():
        burst = f" | {f['burst_per_s']}/s" if "burst_per_s" in f else " | -"
        print(f"| {args.label} | {what} | {f['p50_ms']} | {f['p99_ms']} | {f['max_ms']}{burst} |")


if __name__ == "__main__":
    main()
