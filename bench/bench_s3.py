"""Benchmark: the S3 endpoint of `stratus up` against moto's server and ministack, with boto3.

Run from the repository root:  python bench/bench_s3.py [--n-small 1000] [--n-large 60] [--rounds 3]
(needs  pip install 'moto[server]' ministack  in the same environment)

Side by side in one run on this machine, three targets on loopback, each started by this script:
  stratus    `stratus up apps/todo` (RunningSystem): HTTPS, SigV4 verified with the admin keys,
             objects over 64 KiB written to files on disk and fsynced, smaller ones in SQLite with
             their metadata
  moto       `python -m moto.server -H 127.0.0.1 -p PORT`: plain HTTP, in memory
  ministack  `python -m ministack` with GATEWAY_PORT=PORT BIND_HOST=127.0.0.1: plain HTTP, in memory
Each runs as it does by default: the comparison is as-is, what a user gets out of the box.

All three are started first and stay up; then, for each target in turn and each size (1 KiB and
8 MiB, the same random payload for every target), one boto3 client (path-style addressing, no
retries, so a failed request is not hidden) makes a short warm-up, then N PUTs of distinct keys,
then N GETs of those keys reading the whole body, one after the other. Each request is timed alone
with time.perf_counter; operations/s is N over the summed time, MB/s counts 10^6 bytes. Every ETag
must be the payload's MD5 and every body's SHA-256 the payload's (checked outside the timed
requests), or the target is void: one that answers wrongly cannot look fast. The keys are then
deleted, untimed. The whole sequence runs --rounds times (3) and each cell reports its median
round, with all rounds listed: the machine is shared, and one round can be off by 2x.

The server's CPU seconds and this process's (the client) show where the time went. The client's
work differs by transport, as botocore decides by itself: over HTTPS it encrypts and sends the body
aws-chunked with a CRC32 trailer and an unsigned payload; over plain HTTP it signs the body's
SHA-256 and sends the CRC32 in a header. All three answer GETs with the CRC32, which boto3 checks.

Writes bench/results/s3.json and prints the Markdown table for bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import boto3  # noqa: E402
import botocore.config  # noqa: E402
from _common import HERE, ROOT, cpu_seconds, machine, stop  # noqa: E402

from stratus.local.system import RunningSystem  # noqa: E402

TODO = ROOT / "apps" / "todo"
BUCKET = "bench-objects"
SIZES = {"1KiB": 1024, "8MiB": 8 * 1024 * 1024}
TARGETS = ("stratus", "moto", "ministack")
PEER_REGION = "us-east-1"
NOTE = ("stratus serves HTTPS with real SigV4 verification and durable writes (an object over 64 KiB is a file, "
        "fsynced and renamed into place; a smaller one is kept in SQLite with its metadata, in one transaction); "
        "moto and ministack serve plain HTTP and keep objects in memory. The comparison is as-is: each is what a "
        "user gets by default.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fs_type(path: Path) -> str:
    """The file system a path lives on (fsync on tmpfs is free, on a disk it is not)."""
    best, kind = "", "unknown"
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mount, fs = line.split()[:3]
        if str(path).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fs
    return kind


def _client(endpoint: str, region: str, key_id: str, secret: str, verify: str | bool) -> Any:
    config = botocore.config.Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1})
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=key_id,
                        aws_secret_access_key=secret, verify=verify, config=config)


@contextmanager
def _peer(cmd: list[str], env: dict[str, str], port: int, log: Path, timeout: float = 60.0) -> Iterator[Any]:
    """Start a peer server as a child process; yield a boto3 client and the pid once it answers; always kill it."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **env})
    try:
        client = _client(f"http://127.0.0.1:{port}", PEER_REGION, "bench", "bench-secret", False)
        t0 = time.perf_counter()
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{cmd} exited with {proc.returncode}:\n{tail}")
            try:
                client.list_buckets()
                break
            except Exception as exc:  # not listening yet
                if time.perf_counter() - t0 > timeout:
                    raise RuntimeError(f"{cmd} did not answer within {timeout:.0f}s: {exc!r}") from None
                time.sleep(0.1)
        yield client, proc.pid
    finally:
        if proc.poll() is None:
            stop(proc)


@contextmanager
def stratus(tmp: Path) -> Iterator[Any]:
    s = RunningSystem.start(tmp / "stratus", [TODO])
    try:
        ep = s.endpoints
        creds = ep["admin_credentials"]
        client = _client(ep["aws_endpoint"], ep["region"], creds["access_key_id"], creds["secret_access_key"],
                         ep["ca_file"])
        yield client, s.proc.pid
    finally:
        s.stop()


def moto(tmp: Path) -> Any:
    port = _free_port()
    return _peer([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], {}, port,
                 tmp / "moto.log")


def ministack(tmp: Path) -> Any:
    port = _free_port()
    home = tmp / "ministack"
    home.mkdir()
    # GATEWAY_PORT sets the port (default 4566), BIND_HOST the interface (default 0.0.0.0); its pid file goes to
    # TMPDIR and S3_DATA_DIR is only used with S3_PERSIST=1 (off by default): both point into our temp dir.
    env = {"GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1", "TMPDIR": str(home), "S3_DATA_DIR": str(home / "s3")}
    return _peer([sys.executable, "-m", "ministack"], env, port, tmp / "ministack.log")


def cell(client: Any, pid: int, size: str, payload: bytes, n: int, prefix: str) -> dict[str, Any]:
    """N PUTs of distinct keys, then N GETs of them (whole body), each timed alone and checked outside the timing."""
    md5 = f'"{hashlib.md5(payload, usedforsecurity=False).hexdigest()}"'
    sha = hashlib.sha256(payload).digest()
    for i in range(3 if len(payload) < 1 << 20 else 2):  # warm-up: connection, code paths
        client.put_object(Bucket=BUCKET, Key=f"{prefix}/warmup/{i}", Body=payload)
        assert client.get_object(Bucket=BUCKET, Key=f"{prefix}/warmup/{i}")["Body"].read() == payload
    keys = [f"{prefix}/{i:05d}" for i in range(n)]
    out: dict[str, Any] = {}
    bad = {"put": 0, "get": 0}
    for op in ("put", "get"):
        wall = client_cpu = 0.0
        srv0 = cpu_seconds(pid)
        for k in keys:
            c0, t0 = time.process_time(), time.perf_counter()
            if op == "put":
                got = client.put_object(Bucket=BUCKET, Key=k, Body=payload)["ETag"]
            else:
                got = client.get_object(Bucket=BUCKET, Key=k)["Body"].read()
            wall += time.perf_counter() - t0
            client_cpu += time.process_time() - c0
            bad[op] += got != md5 if op == "put" else len(got) != len(payload) or hashlib.sha256(got).digest() != sha
        out[op] = {"ops_per_s": n / wall, "server_cpu_s": cpu_seconds(pid) - srv0, "client_cpu_s": client_cpu}
    if bad["put"] or bad["get"]:
        raise RuntimeError(f"{size}: {bad['put']} PUTs answered a wrong ETag, {bad['get']} GETs a wrong body")
    for i in range(0, n, 1000):  # untimed: keep the peers' memory and our disk bounded across rounds
        batch = keys[i:i + 1000]
        client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
    return out


def run(tmp: Path, payloads: dict[str, bytes], counts: dict[str, int], rounds: int) -> dict[str, Any]:
    """Start every target, then run all cells target after target, ``rounds`` times; the median round per cell."""
    starters = {"stratus": stratus, "moto": moto, "ministack": ministack}
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        live = {}
        for name in TARGETS:
            try:
                client, pid = stack.enter_context(starters[name](tmp))
                client.create_bucket(Bucket=BUCKET)
                live[name] = (client, pid)
            except Exception as exc:  # a target that cannot start is recorded, not faked
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        seen: dict[str, dict[str, dict[str, list[dict[str, float]]]]] = {
            name: {size: {"put": [], "get": []} for size in SIZES} for name in live}
        for r in range(rounds):
            for name, (client, pid) in list(live.items()):
                try:
                    for size, payload in payloads.items():
                        for op, v in cell(client, pid, size, payload, counts[size], f"r{r}/{size}").items():
                            seen[name][size][op].append(v)
                except Exception as exc:  # a target that fails or answers wrongly is recorded, not faked
                    results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                    del live[name]
    for name in live:
        results[name] = {}
        for size in SIZES:
            results[name][size] = {}
            for op, runs in seen[name][size].items():
                mid = sorted(runs, key=lambda v: v["ops_per_s"])[len(runs) // 2]
                results[name][size][op] = {
                    "ops_per_s": round(mid["ops_per_s"], 1), "mb_per_s": round(mid["ops_per_s"] * SIZES[size] / 1e6, 1),
                    "n": counts[size], "rounds_ops_per_s": [round(v["ops_per_s"], 1) for v in runs],
                    "server_cpu_ms_per_op": round(mid["server_cpu_s"] / counts[size] * 1e3, 2),
                    "client_cpu_ms_per_op": round(mid["client_cpu_s"] / counts[size] * 1e3, 2)}
    return {name: results[name] for name in TARGETS}


def _ratio(a: dict[str, Any], b: dict[str, Any], size: str, op: str) -> float | None:
    if "error" in a or "error" in b:
        return None
    return round(a[size][op]["ops_per_s"] / b[size][op]["ops_per_s"], 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-small", type=int, default=1000, help="operations per 1 KiB cell")
    ap.add_argument("--n-large", type=int, default=60, help="operations per 8 MiB cell")
    ap.add_argument("--rounds", type=int, default=3, help="runs of every cell; the median counts")
    args = ap.parse_args()
    counts = {"1KiB": args.n_small, "8MiB": args.n_large}
    rng = os.urandom(SIZES["8MiB"])
    payloads = {size: rng[:n] for size, n in SIZES.items()}
    tmp = Path(tempfile.mkdtemp(prefix="stratus-bench-s3-"))
    try:
        fs = _fs_type(tmp)
        results = run(tmp, payloads, counts, args.rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratios = {f"stratus/{peer}": {f"{size} {op}": _ratio(results["stratus"], results[peer], size, op)
                                  for size in SIZES for op in ("put", "get")} for peer in ("moto", "ministack")}
    result = {"machine": machine(), "note": NOTE, "stratus_data_dir_fs": fs,
              "versions": {p: version(p) for p in ("moto", "ministack", "boto3", "botocore")},
              "rounds": args.rounds, "results": results, "ratios": ratios}
    out = HERE / "results" / "s3.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))

    def ops(name: str, size: str, op: str) -> str:
        r = results[name]
        return "error" if "error" in r else f"{r[size][op]['ops_per_s']:.1f} ({r[size][op]['mb_per_s']:.1f} MB/s)"

    def ratio(peer: str, size: str, op: str) -> str:
        v = ratios[f"stratus/{peer}"][f"{size} {op}"]
        return "n/a" if v is None else f"{v:.2f}"

    print(f"\n{NOTE}\n\n| size | op | stratus ops/s | moto ops/s | ministack ops/s | stratus / moto | stratus / ministack |")
    print("|---|---|---|---|---|---|---|")
    for size in SIZES:
        for op in ("put", "get"):
            print(f"| {size} | {op.upper()} | {ops('stratus', size, op)} | {ops('moto', size, op)} | "
                  f"{ops('ministack', size, op)} | {ratio('moto', size, op)} | {ratio('ministack', size, op)} |")
    print("\nCPU ms per operation (the median round):\n\n"
          "| size | op | server: stratus | moto | ministack | client: stratus | moto | ministack |")
    print("|---|---|---|---|---|---|---|---|")
    for size in SIZES:
        for op in ("put", "get"):
            cpu = [("-" if "error" in results[t] else str(results[t][size][op][k]))
                   for k in ("server_cpu_ms_per_op", "client_cpu_ms_per_op") for t in TARGETS]
            print(f"| {size} | {op.upper()} | " + " | ".join(cpu) + " |")
    for name in TARGETS:
        if "error" in results[name]:
            print(f"\n{name} failed: {results[name]['error']}")


if __name__ == "__main__":
    main()
