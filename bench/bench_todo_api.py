"""Benchmark: `stratus up` time to ready, and authenticated GET /todos over HTTPS on loopback.

Run from the repository root:  python bench/bench_todo_api.py [--seconds 10]

- time to ready: from spawning `stratus up` to `endpoints.json` appearing (the server then
  accepts connections), for a fresh data dir (makes the CA, keys and databases) and for a
  warm one (a restart); median of several starts.
- throughput: wrk (C, one thread) with 32 keep-alive connections against GET /todos with a
  valid access token, the user owning 20 todos. The server is one process; wrk runs on the
  other core. The CPU seconds each used are recorded, to show which side was the bottleneck.

Writes bench/results/todo_api.json and prints a Markdown table for bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import boto3  # noqa: E402
import httpx  # noqa: E402
from _common import HERE, ROOT, cpu_seconds, machine, run_wrk  # noqa: E402

from stratus.local.system import RunningSystem  # noqa: E402

TODO = ROOT / "apps" / "todo"


def time_to_ready(runs: int) -> dict[str, float]:
    fresh, warm = [], []
    for _ in range(runs):
        d = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
        try:
            s = RunningSystem.start(d, [TODO])
            fresh.append(s.ready_seconds)
            s.stop()
            s = RunningSystem.start(d, [TODO])
            warm.append(s.ready_seconds)
            s.stop()
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return {"fresh_data_dir_s": round(statistics.median(fresh), 3), "warm_data_dir_s": round(statistics.median(warm), 3),
            "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--starts", type=int, default=5)
    args = ap.parse_args()

    ready = time_to_ready(args.starts)
    d = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    s = RunningSystem.start(d, [TODO])
    try:
        ep, todo = s.endpoints, s.endpoints["apps"]["todo"]
        idp = boto3.client("cognito-idp", endpoint_url=ep["aws_endpoint"], region_name=ep["region"],
                           verify=ep["ca_file"])
        email = "bench@example.com"
        idp.sign_up(ClientId=todo["user_pool_client_id"], Username=email, Password="Bench-Passw0rd")
        idp.confirm_sign_up(ClientId=todo["user_pool_client_id"], Username=email, ConfirmationCode=s.latest_code(email))
        token = idp.initiate_auth(ClientId=todo["user_pool_client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": email, "PASSWORD": "Bench-Passw0rd"}
                                  )["AuthenticationResult"]["AccessToken"]
        import ssl
        http = httpx.Client(verify=ssl.create_default_context(cafile=ep["ca_file"]))
        for i in range(20):
            http.post(todo["api"] + "/todos", json={"title": f"todo {i}", "tags": ["bench"]},
                      headers={"authorization": f"Bearer {token}"}).raise_for_status()
        r = http.get(todo["api"] + "/todos", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200 and len(r.json()["items"]) == 20
        url = todo["api"].replace("127.0.0.1", "localhost") + "/todos"
        run_wrk(url, {"Authorization": f"Bearer {token}"}, seconds=2)  # warm-up
        cpu0 = cpu_seconds(s.proc.pid)
        load = run_wrk(url, {"Authorization": f"Bearer {token}"}, seconds=args.seconds)
        load["server_cpu_s"] = round(cpu_seconds(s.proc.pid) - cpu0, 2)
        load["response_bytes"] = len(r.content)
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)

    result = {"machine": machine(), "time_to_ready": ready, "get_todos_https_32c": load}
    out = HERE / "results" / "todo_api.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print("\n| measure | value |\n|---|---|")
    print(f"| `stratus up` to ready, fresh data dir (median of {ready['runs']}) | {ready['fresh_data_dir_s']} s |")
    print(f"| `stratus up` to ready, warm data dir (median of {ready['runs']}) | {ready['warm_data_dir_s']} s |")
    print(f"| GET /todos, HTTPS, 32 connections: requests/s | {load['requests_per_s']:.0f} |")
    print(f"| GET /todos: p50 / p90 / p99 | {load['p50_ms']:.2f} / {load['p90_ms']:.2f} / {load['p99_ms']:.2f} ms |")
    print(f"| CPU used in {load['seconds']} s: server / wrk | {load['server_cpu_s']} s / {load['generator_cpu_s']} s |")


if __name__ == "__main__":
    main()
