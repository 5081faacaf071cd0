"""Benchmark: MyTodoList's start-up and read path, with and without its caches, against the server's ceiling.

Run from the repository root:  python bench/bench_todo.py [--seconds 10] [--starts 5]

Time to ready: from spawning `stratus up apps/todo` to `endpoints.json` appearing (the server
then accepts connections), for a fresh data dir (makes the CA, keys and databases) and a warm
one (a restart); the median of several starts.

Then, side by side in one run, each over HTTPS on loopback with wrk (C, one thread) at 32
keep-alive connections:
  (a) a bare ASGI hello-world on the same server (uvicorn, uvloop, httptools) and TLS: the ceiling
  (b) authenticated GET /todos with no cache        (stratus up --no-table-cache --no-api-cache)
  (c) the same with the DAX-style table cache       (stratus up --no-api-cache)
  (d) the same with the API stage cache (and the table cache), as the app declares them
(b)-(d) run with --no-throttle: (d) goes past API Gateway's default 10,000 requests/s, and a
run that counted 429s would measure the throttle, not the path. Any non-2xx voids a run.
and, in process, a table-cache hit against a plain SQLite get of the same item.

The user owns 20 todos; GET /todos answers them as one page. The CPU seconds used by the
server and by wrk show which side was the bottleneck.

Writes bench/results/todo.json and prints the Markdown tables for bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import boto3  # noqa: E402
import httpx  # noqa: E402
from _common import HERE, ROOT, cpu_seconds, machine, run_wrk  # noqa: E402

from stratus import App, TableCache  # noqa: E402
from stratus.clock import SystemClock  # noqa: E402
from stratus.local.services.dynamodb.dax import CachedTable  # noqa: E402
from stratus.local.services.dynamodb.table import SqliteTable, tables_database  # noqa: E402
from stratus.local.system import RunningSystem  # noqa: E402

TODO = ROOT / "apps" / "todo"
PASSWORD = "Bench-Passw0rd"


def time_to_ready(runs: int) -> dict[str, float]:
    fresh, warm = [], []
    for _ in range(runs):
        d = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
        try:
            for seen in (fresh, warm):  # the first start makes the data dir, the second is a restart
                s = RunningSystem.start(d, [TODO])
                seen.append(s.ready_seconds)
                s.stop()
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return {"fresh_data_dir_s": round(statistics.median(fresh), 3), "warm_data_dir_s": round(statistics.median(warm), 3),
            "runs": runs}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hello(data_dir: Path, seconds: int) -> dict[str, Any]:
    tls = data_dir / "tls"
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "hello_server.py"), str(tls / "server.pem"),
                             str(tls / "server.key"), str(port)])
    try:
        ctx = ssl.create_default_context(cafile=str(tls / "ca.pem"))
        for _ in range(200):
            try:
                httpx.get(f"https://localhost:{port}/", verify=ctx).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        url = f"https://localhost:{port}/"
        run_wrk(url, {}, seconds=2)
        cpu0 = cpu_seconds(proc.pid)
        out = run_wrk(url, {}, seconds=seconds)
        out["server_cpu_s"] = round(cpu_seconds(proc.pid) - cpu0, 2)
        return out
    finally:
        proc.terminate()
        proc.wait(10)


def todo_get(data_dir: Path, flags: list[str], seconds: int) -> dict[str, Any]:
    s = RunningSystem.start(data_dir, [TODO], extra=flags)
    try:
        ep, todo = s.endpoints, s.endpoints["apps"]["todo"]
        idp = boto3.client("cognito-idp", endpoint_url=ep["aws_endpoint"], region_name=ep["region"],
                           verify=ep["ca_file"])
        email = f"bench-{time.time_ns()}@example.com"
        idp.sign_up(ClientId=todo["user_pool_client_id"], Username=email, Password=PASSWORD)
        idp.confirm_sign_up(ClientId=todo["user_pool_client_id"], Username=email, ConfirmationCode=s.latest_code(email))
        token = idp.initiate_auth(ClientId=todo["user_pool_client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD}
                                  )["AuthenticationResult"]["AccessToken"]
        http = httpx.Client(verify=ssl.create_default_context(cafile=ep["ca_file"]))
        auth = {"authorization": f"Bearer {token}"}
        for i in range(20):
            http.post(todo["api"] + "/todos", json={"title": f"todo {i}", "tags": ["bench"]}, headers=auth
                      ).raise_for_status()
        r = http.get(todo["api"] + "/todos", headers=auth)
        assert r.status_code == 200 and len(r.json()["items"]) == 20
        url = todo["api"].replace("127.0.0.1", "localhost") + "/todos"
        run_wrk(url, {"Authorization": f"Bearer {token}"}, seconds=2)  # warm-up
        cpu0 = cpu_seconds(s.proc.pid)
        out = run_wrk(url, {"Authorization": f"Bearer {token}"}, seconds=seconds)
        out["server_cpu_s"] = round(cpu_seconds(s.proc.pid) - cpu0, 2)
        out["response_bytes"] = len(r.content)
        stats = http.get(ep["aws_endpoint"] + "/_stratus/stats",
                         headers={"authorization": f"Bearer {ep['operator_token']}"}).json()["apps"]["todo"]
        rc = stats["apis"]["api"]["response_cache"]
        out["response_cache_hit_ratio"] = rc and rc["hit_ratio"]
        tc = stats["table_caches"].get("todos")
        out["table_query_cache_hits"] = tc and tc["query_cache"]["hits"]
        return out
    finally:
        s.stop()


def in_process(tmp: Path) -> dict[str, Any]:
    decl = App("bench").table("todos", partition_key="owner", sort_key="id", cache=TableCache())
    plain = SqliteTable(decl, tables_database(tmp / "inproc.db"))
    item = {"owner": "user-1", "id": "0123456789abcdef01234567", "title": "buy milk", "notes": "2 litres",
            "done": False, "due": None, "tags": ["shop"], "version": 1}
    plain.put(item)
    assert decl.cache is not None
    cached = CachedTable(decl, plain, decl.cache, SystemClock())
    key = {"owner": "user-1", "id": item["id"]}
    assert cached.get(key) == plain.get(key) == item
    n = 50_000
    sqlite_s = min(timeit.repeat(lambda: plain.get(key), number=n, repeat=5)) / n
    hit_s = min(timeit.repeat(lambda: cached.get(key), number=n, repeat=5)) / n
    return {"sqlite_get_us": round(sqlite_s * 1e6, 2), "cache_hit_us": round(hit_s * 1e6, 2),
            "speedup": round(sqlite_s / hit_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--starts", type=int, default=5)
    args = ap.parse_args()
    ready = time_to_ready(args.starts)
    tmp = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    try:
        runs = {
            "b_no_cache": todo_get(tmp / "b", ["--no-table-cache", "--no-api-cache", "--no-throttle"], args.seconds),
            "c_table_cache": todo_get(tmp / "c", ["--no-api-cache", "--no-throttle"], args.seconds),
            "d_response_cache": todo_get(tmp / "d", ["--no-throttle"], args.seconds),
        }
        runs = {"a_hello_world": hello(tmp / "b", args.seconds), **runs}
        inproc = in_process(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    a, b, c, d = (runs[k]["requests_per_s"] for k in ("a_hello_world", "b_no_cache", "c_table_cache", "d_response_cache"))
    targets = {
        "d >= 50% of a": {"value": round(d / a, 3), "target": 0.5, "met": d / a >= 0.5},
        "c >= 1.5x b": {"value": round(c / b, 3), "target": 1.5, "met": c / b >= 1.5},
        "p99 of d < 5 ms": {"value": runs["d_response_cache"]["p99_ms"], "target": 5.0,
                            "met": runs["d_response_cache"]["p99_ms"] < 5.0},
        "cache hit >= 10x sqlite get": {"value": inproc["speedup"], "target": 10, "met": inproc["speedup"] >= 10},
    }
    result = {"machine": machine(), "time_to_ready": ready, "runs": runs, "in_process": inproc, "targets": targets}
    out = HERE / "results" / "todo.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"\n| `stratus up` to ready (median of {ready['runs']}) | seconds |\n|---|---|")
    print(f"| fresh data dir | {ready['fresh_data_dir_s']} |\n| warm data dir (restart) | {ready['warm_data_dir_s']} |")
    names = {"a_hello_world": "(a) hello-world, same server and TLS", "b_no_cache": "(b) GET /todos, no cache",
             "c_table_cache": "(c) GET /todos, table cache", "d_response_cache": "(d) GET /todos, response cache"}
    print("\n| run | requests/s | vs (a) | p50 ms | p99 ms | server CPU s | wrk CPU s |\n|---|---|---|---|---|---|---|")
    for k, r in runs.items():
        print(f"| {names[k]} | {r['requests_per_s']:.0f} | {r['requests_per_s'] / a:.2f} | {r['p50_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['server_cpu_s']} | {r['generator_cpu_s']} |")
    print(f"\nin process: SQLite get {inproc['sqlite_get_us']} us, table-cache hit {inproc['cache_hit_us']} us "
          f"({inproc['speedup']}x)\n\n| target | measured | met |\n|---|---|---|")
    for name, t in targets.items():
        print(f"| {name} | {t['value']} | {'yes' if t['met'] else 'no'} |")


if __name__ == "__main__":
    main()
