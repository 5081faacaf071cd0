"""Benchmark: cached hits through the stratus edge (a distribution) against nginx, side by side in one run.

Run from the repository root, as root (it installs nginx and wrk from Debian when they are missing):
    python bench/bench_edge.py [--seconds 10] [--connections 32] [--rounds 2] [--profile auto|always|never]

Two files, the same bytes on every target: ``index.html`` (1,993 bytes of HTML, in bench/apps/edgebench/site) and
``blob.bin`` (1 MiB of random bytes, not compressible, written into a temporary copy of the app folder at the start,
so it is never kept in the repository). Every target serves HTTPS on loopback and is started by this script:

  edge         `stratus up bench/apps/edgebench` (RunningSystem): the distribution's own port, a BucketOrigin over a
               private bucket the app fills with `deploy_folder`; warmed so that every measured request is a Hit
  nginx-cache  nginx as a caching reverse proxy (proxy_cache, proxy_cache_lock on, proxy_cache_valid 200 10m) in
               front of a second nginx server block serving the files from disk over plain HTTP on loopback; warmed
               so that every measured request is a cache HIT
  nginx-disk   nginx serving the files from disk
  s3           a GET of the same objects from the stratus S3 endpoint (presigned once with the admin credentials,
               so the load generator only GETs: each request's SigV4 signature is checked, the object read)
  asgi-bytes   the server stratus runs (uvicorn with uvloop, httptools and the guarded protocol, the same TLS
               certificate), answering with the same bytes from memory and no other code: what the edge's hit path
               could reach if its own work cost nothing

nginx runs one worker (the server under test gets one core, as `stratus up` has one event loop; wrk has the other),
as a non-daemon child with a temporary prefix and config, a certificate for localhost signed by the data dir's local
CA (an ECDSA P-256 key, as the stratus server's), keep-alive without a request cap, no access log on the servers
measured. Clients send no Accept-Encoding, so every target answers the bytes as they are.

The load: wrk (C, one thread) with 32 keep-alive connections for 10 s per run, each after a 1 s warm-up of the same
target; targets run interleaved for two rounds (the second in reverse order), since the machine is shared and noisy;
each cell is the median over rounds. Any non-2xx answer or socket error voids a run. Every measured request must be a
hit: for the edge, the distribution's own counters (`/_stratus/stats`) must have counted at least as many hits as wrk's
requests during the run, and no miss, refresh hit, error or origin request; for nginx-cache, its origin's access log
must not grow during the run; and a request just before and just after each run must say `x-cache: Hit from
cloudfront` or `X-Cache-Status: HIT`. Before the rounds, each target's body is checked against the file's SHA-256.

The goal the project states: the edge reaches at least 0.5x nginx proxy_cache's hits per second. With
`--profile auto` (the default), when the edge misses it for a file, py-spy samples the stratus process (native frames
too) while wrk loads the edge with that file, and asgi-bytes the same way for comparison, and the script prints where
the time goes: by owner (the innermost stratus or uvicorn Python frame) and by what the innermost frames do (Python,
write(), read(), OpenSSL, ...). Then two findings are put to figures: asgi-bytes against itself writing each
response's head together with its body (one TLS record and one write() for a small answer instead of two), on the
page, alternated twice; and, in this process, the edge's own code per page hit (its ASGI app called with a stub
origin) and uvicorn's send of the edge's headers against asgi-bytes' two.

Writes bench/results/edge.json (py-spy's raw stacks go to /tmp/stratus-edge-profiles/, for flamegraph.pl or a
look) and prints the Markdown tables for bench/README.md.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import boto3  # noqa: E402
import httpx  # noqa: E402
from _common import HERE, cpu_seconds, ensure_wrk, machine, run_wrk  # noqa: E402
from _common import stop as stop_process  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from stratus.local.system import RunningSystem  # noqa: E402

APP = HERE / "apps" / "edgebench"
FILES = {"page": "index.html", "1MiB": "blob.bin"}
BLOB_BYTES = 1024 * 1024
TARGETS = ("edge", "nginx-cache", "nginx-disk", "s3", "asgi-bytes")
GOAL = 0.5  # the edge's hits/s against nginx proxy_cache's
PROFILES = Path(tempfile.gettempdir()) / "stratus-edge-profiles"  # py-spy's raw stacks (large: kept out of the repo)

ASGI_BYTES = '''
"""The same bytes from memory on the server `stratus up` runs, with nothing else in the way. With a fifth argument
``one-write``: the response head is held back and written with the first piece of the body, so a small answer is
one TLS record and one write() instead of two (uvicorn writes the head at http.response.start)."""
import asyncio
import sys
from pathlib import Path

import uvicorn

from stratus.local.guard import guarded_protocol

cert, key, port, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
FILES = {"/" + p.name: (p.read_bytes(), b"text/html" if p.suffix == ".html" else b"application/octet-stream")
         for p in folder.iterdir()}
protocol = guarded_protocol()


class HeadWithBody:
    """A transport whose next write after a response head carries the head too (or, failing one in this turn of
    the loop, the head goes alone)."""

    def __init__(self, transport):
        self.transport, self.head = transport, None

    def write(self, data):
        if self.head is None and data[:5] == b"HTTP/":
            self.head = data
            asyncio.get_running_loop().call_soon(self.flush)
            return
        if self.head is not None:
            data, self.head = self.head + data, None
        self.transport.write(data)

    def flush(self):
        if self.head is not None:
            data, self.head = self.head, None
            self.transport.write(data)

    def __getattr__(self, name):
        return getattr(self.transport, name)


class OneWrite(protocol):
    def on_headers_complete(self):
        real = self.transport
        self.transport = HeadWithBody(real)  # what the request's cycle is handed
        try:
            super().on_headers_complete()
        finally:
            self.transport = real


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body, ctype = FILES[scope["path"]]
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


uvicorn.run(app, host="127.0.0.1", port=port, ssl_certfile=cert, ssl_keyfile=key, log_level="warning",
            access_log=False, lifespan="off", loop="auto", ws="none", server_header=False, timeout_keep_alive=30,
            timeout_graceful_shutdown=1, http=OneWrite if sys.argv[5:] == ["one-write"] else protocol)
'''


# -- tools


def ensure_apt(binary: str, package: str) -> str:
    """A Debian package's program, installed non-interactively when missing (as root), as tests/conftest.py does."""
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
    if path is not None:
        return path
    if os.geteuid() != 0:
        raise SystemExit(f"this benchmark needs {binary}: apt-get install {package}")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:  # package lists missing or stale
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    path = shutil.which(binary) or f"/usr/sbin/{binary}"
    if not os.path.exists(path):
        raise SystemExit(f"{package} installed no {binary}")
    return path


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"{what} exited with {proc.returncode}:\n{tail}") from None
            if time.monotonic() > end:
                raise SystemExit(f"{what} did not listen on {port} within {timeout:.0f} s") from None
            time.sleep(0.05)


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# -- nginx


def leaf_certificate(tls: Path, out: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 signed by the data dir's local CA, for nginx."""
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = out / "nginx.pem", out / "nginx.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_file, 0o600)
    return cert_file, key_file


def nginx_config(prefix: Path, www: Path, cert: Path, key: Path, ports: dict[str, int]) -> str:
    user = "user root root;" if os.geteuid() == 0 else ""  # the temporary folders are the owner's only
    return textwrap.dedent(f"""\
        {user}
        daemon off;
        worker_processes 1;
        pid {prefix}/nginx.pid;
        error_log {prefix}/error.log warn;
        events {{ worker_connections 4096; }}
        http {{
            types {{ text/html html; application/octet-stream bin; }}
            default_type application/octet-stream;
            access_log off;
            sendfile on;
            tcp_nopush on;
            keepalive_timeout 65;
            keepalive_requests 10000000;
            client_body_temp_path {prefix}/client_body;
            proxy_temp_path {prefix}/proxy_temp;
            fastcgi_temp_path {prefix}/fastcgi_temp;
            uwsgi_temp_path {prefix}/uwsgi_temp;
            scgi_temp_path {prefix}/scgi_temp;
            proxy_cache_path {prefix}/cache levels=1:2 keys_zone=edge:10m max_size=1g inactive=60m use_temp_path=off;
            ssl_certificate {cert};
            ssl_certificate_key {key};
            ssl_protocols TLSv1.2 TLSv1.3;
            ssl_session_cache shared:SSL:10m;

            server {{  # nginx-disk
                listen 127.0.0.1:{ports["nginx-disk"]} ssl;
                root {www};
            }}
            server {{  # the plain origin nginx-cache fetches from (its log tells whether a request got past the cache)
                listen 127.0.0.1:{ports["origin"]};
                root {www};
                access_log {prefix}/origin.log;
            }}
            server {{  # nginx-cache
                listen 127.0.0.1:{ports["nginx-cache"]} ssl;
                location / {{
                    proxy_pass http://127.0.0.1:{ports["origin"]};
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_cache edge;
                    proxy_cache_lock on;
                    proxy_cache_valid 200 10m;
                    add_header X-Cache-Status $upstream_cache_status;
                }}
            }}
        }}
        """)


class Nginx:
    def __init__(self, binary: str, prefix: Path, www: Path, cert: Path, key: Path) -> None:
        self.prefix = prefix
        prefix.mkdir()
        self.ports = {"nginx-disk": free_port(), "nginx-cache": free_port(), "origin": free_port()}
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_config(prefix, www, cert, key, self.ports))
        self.log = prefix / "stderr.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for name in ("nginx-disk", "nginx-cache", "origin"):
            wait_listening(self.ports[name], self.proc, "nginx", prefix / "error.log")
        end = time.monotonic() + 10
        while not children(self.proc.pid):
            if time.monotonic() > end:
                raise SystemExit("nginx started no worker")
            time.sleep(0.05)

    @property
    def worker(self) -> int:
        found = [p for p in children(self.proc.pid)  # beside the cache manager and loader
                 if b"worker process" in Path(f"/proc/{p}/cmdline").read_bytes()]
        if len(found) != 1:
            raise RuntimeError(f"nginx has {len(found)} workers, not 1")
        return found[0]

    def origin_requests(self) -> int:
        path = self.prefix / "origin.log"
        return len(path.read_bytes().splitlines()) if path.exists() else 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # nginx's fast shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the run


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def edge_stats(http: httpx.Client, ep: dict[str, Any]) -> dict[str, Any]:
    r = http.get(ep["aws_endpoint"] + "/_stratus/stats", headers={"authorization": f"Bearer {ep['operator_token']}"})
    r.raise_for_status()
    return r.json()["apps"]["edgebench"]["distributions"]["cdn"]


def check_hit(http: httpx.Client, target: str, url: str) -> None:
    r = http.get(url)
    r.raise_for_status()
    if target == "edge" and r.headers.get("x-cache") != "Hit from cloudfront":
        raise RuntimeError(f"the edge answered x-cache: {r.headers.get('x-cache')!r}, not a Hit, for {url}")
    if target == "nginx-cache" and r.headers.get("x-cache-status") != "HIT":
        raise RuntimeError(f"nginx answered X-Cache-Status: {r.headers.get('x-cache-status')!r}, not HIT, for {url}")


def measure(target: str, url: str, args: argparse.Namespace, pids: dict[str, int], http: httpx.Client,
            ep: dict[str, Any], nginx: Nginx) -> dict[str, Any]:
    run_wrk(url, {}, connections=args.connections, seconds=args.warmup)
    check_hit(http, target, url)
    before_stats = edge_stats(http, ep) if target == "edge" else None
    before_origin = nginx.origin_requests()
    pid = pids[target]
    cpu0 = cpu_seconds(pid)
    out = run_wrk(url, {}, connections=args.connections, seconds=args.seconds)
    out["server_cpu_s"] = round(cpu_seconds(pid) - cpu0, 2)
    if target == "edge":
        after = edge_stats(http, ep)
        assert before_stats is not None
        # what is counted once answered (the requests in flight when wrk stops may be answered later, or never)
        hits = after["hits"] - before_stats["hits"]
        other = sum(after[k] - before_stats[k] for k in ("misses", "refresh_hits", "errors", "origin_requests"))
        if other or hits < out["requests"]:
            raise RuntimeError(f"the edge counted {hits} hits and {other} misses, refresh hits, errors and origin "
                               f"requests while wrk made {out['requests']}: not every measured request was a Hit")
        out["edge_hits"] = hits
    if target == "nginx-cache":
        grew = nginx.origin_requests() - before_origin
        if grew:
            raise RuntimeError(f"{grew} requests reached nginx's origin during the run: not every one was a HIT")
    check_hit(http, target, url)
    return out


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    wrk = ensure_wrk()
    nginx_bin = ensure_apt("nginx", "nginx")
    results: dict[str, Any] = {"machine": machine(), "args": vars(args), "rounds": []}
    (HERE / "results").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="stratus-edge-bench-"))
    stack: list[Any] = []
    try:
        app = tmp / "edgebench"
        shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__"))
        (app / "site" / FILES["1MiB"]).write_bytes(os.urandom(BLOB_BYTES))
        www = app / "site"
        data = {name: (www / f).read_bytes() for name, f in FILES.items()}
        system = RunningSystem.start(tmp / "data", [app])
        stack.append(system.stop)
        ep = system.endpoints
        tls = Path(ep["ca_file"]).parent
        cert, key = leaf_certificate(tls, tmp)
        nginx = Nginx(nginx_bin, tmp / "nginx", www, cert, key)
        stack.append(nginx.stop)
        (tmp / "asgi_bytes.py").write_text(ASGI_BYTES)

        def start_asgi(*mode: str) -> tuple[subprocess.Popen[bytes], int]:
            port = free_port()
            log_path = tmp / f"asgi-bytes-{port}.log"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen([sys.executable, str(tmp / "asgi_bytes.py"), str(tls / "server.pem"),
                                         str(tls / "server.key"), str(port), str(www), *mode],
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

            stack.append(lambda: stop_process(proc))
            wait_listening(port, proc, "the asgi-bytes server", log_path)
            return proc, port
        asgi, asgi_port = start_asgi()

        admin = ep["admin_credentials"]
        s3 = boto3.client("s3", endpoint_url=ep["aws_endpoint"], region_name=ep["region"], verify=ep["ca_file"],
                          aws_access_key_id=admin["access_key_id"], aws_secret_access_key=admin["secret_access_key"],
                          config=boto3.session.Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
        bucket = ep["apps"]["edgebench"]["buckets"]["files"]
        edge_url = ep["apps"]["edgebench"]["distributions"]["cdn"]["url"]
        urls: dict[str, dict[str, str]] = {
            "edge": {n: f"{edge_url}/{f}" for n, f in FILES.items()},
            "nginx-cache": {n: f"https://127.0.0.1:{nginx.ports['nginx-cache']}/{f}" for n, f in FILES.items()},
            "nginx-disk": {n: f"https://127.0.0.1:{nginx.ports['nginx-disk']}/{f}" for n, f in FILES.items()},
            "s3": {n: s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": f}, ExpiresIn=3600)
                   for n, f in FILES.items()},
            "asgi-bytes": {n: f"https://127.0.0.1:{asgi_port}/{f}" for n, f in FILES.items()},
        }
        pids = {"edge": system.proc.pid, "s3": system.proc.pid, "nginx-cache": nginx.worker,
                "nginx-disk": nginx.worker, "asgi-bytes": asgi.pid}
        http = httpx.Client(verify=ssl.create_default_context(cafile=ep["ca_file"]), timeout=30)
        stack.append(http.close)
        # every target answers the very bytes of each file; the caches are filled (and then must hit)
        for target in TARGETS:
            for name, url in urls[target].items():
                for _ in range(2):
                    r = http.get(url)
                    if r.status_code != 200 or sha256(r.content) != sha256(data[name]):
                        raise SystemExit(f"{target} answered {r.status_code} with other bytes for {name}: void")
                if target in ("edge", "nginx-cache"):
                    check_hit(http, target, url)
        results["versions"] = {
            "nginx": subprocess.run([nginx_bin, "-v"], capture_output=True, text=True).stderr.strip(),
            "wrk": subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip(),
            "uvicorn": version("uvicorn"), "uvloop": version("uvloop"), "httptools": version("httptools"),
            "openssl": ssl.OPENSSL_VERSION}
        results["sizes"] = {n: len(d) for n, d in data.items()}
        print(f"stratus {system.proc.pid}, nginx worker {nginx.worker}, asgi-bytes {asgi.pid}", file=sys.stderr)

        for rnd in range(args.rounds):
            order = TARGETS if rnd % 2 == 0 else tuple(reversed(TARGETS))
            runs: dict[str, dict[str, Any]] = {t: {} for t in TARGETS}
            for name in FILES:
                for target in order:
                    out = measure(target, urls[target][name], args, pids, http, ep, nginx)
                    runs[target][name] = out
                    print(f"round {rnd + 1} {name:5} {target:12} {out['requests_per_s']:9.1f} req/s  "
                          f"p99 {out['p99_ms']:7.2f} ms  server CPU {out['server_cpu_s']:5.2f} s  "
                          f"wrk CPU {out['generator_cpu_s']:5.2f} s", file=sys.stderr)
            results["rounds"].append(runs)

        summary: dict[str, dict[str, Any]] = {t: {} for t in TARGETS}
        for target in TARGETS:
            for name in FILES:
                cells = [r[target][name] for r in results["rounds"]]
                summary[target][name] = {
                    "requests_per_s": median([c["requests_per_s"] for c in cells]),
                    "p50_ms": median([c["p50_ms"] for c in cells]),
                    "p99_ms": median([c["p99_ms"] for c in cells]),
                    "server_cpu_s": median([c["server_cpu_s"] for c in cells]),
                    "generator_cpu_s": median([c["generator_cpu_s"] for c in cells]),
                    "rounds_requests_per_s": [c["requests_per_s"] for c in cells],
                    "rounds_p99_ms": [c["p99_ms"] for c in cells]}
        results["summary"] = summary
        ratios = {}
        for name in FILES:
            e = summary["edge"][name]
            ratios[name] = {f"edge/{peer}": {
                "requests_per_s": round(e["requests_per_s"] / summary[peer][name]["requests_per_s"], 2),
                "p99": round(e["p99_ms"] / summary[peer][name]["p99_ms"], 2)}
                for peer in ("nginx-cache", "nginx-disk", "asgi-bytes", "s3")}
        results["ratios"] = ratios
        missed = [n for n in FILES if ratios[n]["edge/nginx-cache"]["requests_per_s"] < GOAL]
        results["goal"] = {"edge/nginx-cache hits/s at least": GOAL, "missed_for": missed}

        if args.profile == "always" or (args.profile == "auto" and missed):
            spy = py_spy()
            PROFILES.mkdir(exist_ok=True)
            if spy is None:
                print("py-spy is not installed: no profile", file=sys.stderr)
            else:
                results["profile"] = {}
                for name in (FILES if args.profile == "always" else missed):
                    for target in ("edge", "asgi-bytes"):  # and the same server with no edge code, to compare
                        raw = PROFILES / f"{target}-{name}.txt"
                        results["profile"][f"{target}, {name}"] = profile(spy, pids[target], urls[target][name],
                                                                          raw, args)
                        print(f"profiled {target} under {name}: {raw}", file=sys.stderr)
            # what two of the profile's findings are worth: the server writing a small answer in one piece, and
            # what the edge's own code costs a hit, alone in this process
            one, one_port = start_asgi("one-write")
            urls["asgi-bytes-one-write"] = {n: f"https://127.0.0.1:{one_port}/{f}" for n, f in FILES.items()}
            pids["asgi-bytes-one-write"] = one.pid
            results["one_write"] = one_write(urls, pids, http, ep, nginx, args)
            try:
                results["in_process"] = in_process(tmp)
            except Exception as exc:  # noqa: BLE001 - the edge's internals move; the run's figures stand
                results["in_process"] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"in process: {results['in_process']}", file=sys.stderr)
        return results
    finally:
        for stop in reversed(stack):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - stop the rest all the same
                print(f"while stopping: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def one_write(urls: dict[str, dict[str, str]], pids: dict[str, int], http: httpx.Client, ep: dict[str, Any],
              nginx: Nginx, args: argparse.Namespace) -> dict[str, Any]:
    """asgi-bytes as it is against asgi-bytes writing head and body in one piece, the small page, alternated."""
    seconds = max(2, args.seconds // 2)
    quick = argparse.Namespace(**{**vars(args), "seconds": seconds, "warmup": 1})
    runs: dict[str, list[dict[str, Any]]] = {"asgi-bytes": [], "asgi-bytes-one-write": []}
    for _ in range(2):
        for target in runs:
            out = measure(target, urls[target]["page"], quick, pids, http, ep, nginx)
            runs[target].append(out)
            print(f"one write? page {target:22} {out['requests_per_s']:9.1f} req/s  p99 {out['p99_ms']:7.2f} ms",
                  file=sys.stderr)
    found: dict[str, Any] = {"seconds": seconds, "runs": runs}
    for target, outs in runs.items():
        found[target] = {"requests_per_s": median([o["requests_per_s"] for o in outs]),
                         "p99_ms": median([o["p99_ms"] for o in outs])}
    found["gain"] = round(found["asgi-bytes-one-write"]["requests_per_s"] / found["asgi-bytes"]["requests_per_s"], 2)
    return found


def in_process(tmp: Path, n: int = 30_000) -> dict[str, Any]:
    """The edge's own code per hit of the page, alone: its ASGI app called with a stub origin (headers as the local
    S3 answers) and a send that keeps nothing; and uvicorn's send of a response (the cycle, its head, its body) with
    the headers the edge sends on a hit against the two asgi-bytes sends."""
    import asyncio

    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from stratus import App, Behavior, BucketOrigin
    from stratus.clock import SystemClock
    from stratus.local.services.cloudfront.cache import Body
    from stratus.local.services.cloudfront.edge import Edge
    from stratus.local.services.cloudfront.origins import Answer

    page = (APP / "site" / FILES["page"]).read_bytes()
    origin_headers = {"etag": '"d623aa426f61737280ccafc8a7aa70d3"', "last-modified": "Mon, 30 Nov 2026 05:22:13 GMT",
                      "accept-ranges": "bytes", "content-type": "text/html", "x-content-type-options": "nosniff",
                      "cache-control": "public, max-age=3600", "x-amz-request-id": "2360000000000001"}

    class Stub:
        credential = object()  # a bucket's origin

        async def fetch(self, *_: Any, **__: Any) -> Answer:
            return Answer(200, dict(origin_headers), Body(len(page), data=page))

    decl = App("edgebench").distribution("cdn", default=Behavior(BucketOrigin(App("edgebench").bucket("files"))))
    edge = Edge("edgebench", decl, [Stub()], SystemClock(), tmp / "inproc-edge", "IAD89-P1")  # type: ignore[list-item]
    scope: Any = {"type": "http", "method": "GET", "path": "/index.html", "raw_path": b"/index.html", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1:8443")], "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8443)}
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    class Transport:
        def write(self, data: bytes) -> None:
            pass

        def is_closing(self) -> bool:
            return False

    class Flow:
        write_paused = False

    transport: Any = Transport()
    flow: Any = Flow()
    nothing: Any = None

    async def timed() -> dict[str, Any]:
        await edge(scope, receive, send)
        sent.clear()
        await edge(scope, receive, send)
        head = sent[0]["headers"]
        assert any(k == b"x-cache" and v == b"Hit from cloudfront" for k, v in head)
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(n):
                sent.clear()
                await edge(scope, receive, send)
            best = min(best, (time.perf_counter() - t0) / n)
        out: dict[str, Any] = {"edge_code_us_per_hit": round(best * 1e6, 2), "headers_on_a_hit": len(head)}
        for label, headers in ((f"{len(head)} headers (the edge's hit)", head),
                               ("2 headers (asgi-bytes)", [(b"content-type", b"text/html"),
                                                           (b"content-length", str(len(page)).encode())])):
            best = float("inf")
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(n):
                    cycle = RequestResponseCycle(
                        scope=scope, transport=transport, flow=flow, logger=nothing, access_logger=nothing,
                        access_log=False, default_headers=[(b"date", b"Mon, 30 Nov 2026 05:22:15 GMT")],
                        message_event=asyncio.Event(), expect_100_continue=False, keep_alive=True,
                        on_response=lambda: None)
                    await cycle.send({"type": "http.response.start", "status": 200, "headers": headers})
                    await cycle.send({"type": "http.response.body", "body": page})
                best = min(best, (time.perf_counter() - t0) / n)
            out[f"uvicorn_send_us, {label}"] = round(best * 1e6, 2)
        return out
    return asyncio.run(timed())


# -- where the edge's time goes


def profile(spy: str, pid: int, url: str, raw: Path, args: argparse.Namespace) -> dict[str, Any]:
    """py-spy (native frames too, 100 samples a second) on a server process while wrk loads it with one URL."""
    load = subprocess.Popen([ensure_wrk(), "-t1", f"-c{args.connections}", f"-d{args.profile_seconds + 3}s", url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.5)
        subprocess.run([spy, "record", "--pid", str(pid), "--native", "--rate", "100", "--duration",
                        str(args.profile_seconds), "--format", "raw", "-o", str(raw)],
                       check=True, capture_output=True, timeout=args.profile_seconds + 60)
    finally:
        out, _ = load.communicate(timeout=args.profile_seconds + 30)
    found = re.search(r"Requests/sec:\s+([\d.]+)", out or "")
    summary = summarize(raw)
    summary["requests_per_s_while_sampled"] = float(found.group(1)) if found else None
    return summary


# who a sample's time is spent for: the innermost Python frame that one of these matches (email/ is the date
# parsing the edge calls); none: the event loop itself (uvloop, below any request)
OWNERS = (
    ("edge (cloudfront/edge.py, policy.py, cache.py)", re.compile(r"\((cloudfront/)?(edge|policy|cache)\.py\)|"
                                                              r"\(email/")),
    ("uvicorn (httptools_impl.py)", re.compile(r"\(uvicorn/(protocols|middleware)/")),
    ("guard (guard.py)", re.compile(r"\(stratus/local/guard\.py\)")),
    ("front door (frontdoor.py)", re.compile(r"\(stratus/local/frontdoor\.py\)")),
    ("the same bytes, no edge (asgi-bytes' app)", re.compile(r"^app \(")),
    ("executor threads (file reads)", re.compile(r"\(concurrent/futures/")),
)
LOOP = "event loop (uvloop: poll, read, TLS in)"
# what the innermost frames do
KINDS = (
    ("write()", re.compile(r"^(write|writev|sendmsg|send|__libc_write|__write) .*\(libc")),
    ("read()", re.compile(r"^(read|readv|recvmsg|recv|__libc_read|__read) .*\(libc")),
    ("TLS (OpenSSL)", re.compile(r"\(lib(ssl|crypto)\.so|^_ssl__")),
    ("epoll", re.compile(r"^epoll_(p)?wait")),
    ("pread()", re.compile(r"^(pread64|__libc_pread|pread) .*\(libc")),
    ("thread hand-off", re.compile(r"^(sem_post|sem_wait|pthread_cond_\w+|futex\w*|__futex\w*|syscall) .*\(libc")),
)
CODE = "code (Python, uvloop, llhttp)"


def summarize(raw: Path) -> dict[str, Any]:
    """The busy samples' shares (%): by owner and what the innermost frames do; the Python functions that spend the
    most themselves (their native callees but syscalls and TLS included); and the edge's functions inclusive.
    A pool thread waiting on its queue looks busy to native sampling, and is left out."""
    total = 0
    matrix: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    python_self: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        if any(f.startswith("_worker (concurrent/futures/thread.py") for f in frames) and \
                not any(f.startswith("_WorkItem.run") for f in frames):
            continue
        n = int(count)
        total += n
        python = [f for f in frames if f.endswith(".py)") or " (<" in f]
        owner = next((o for f in reversed(python) for o, pat in OWNERS if pat.search(f)), LOOP)
        kind = next((k for f in reversed(frames[-8:]) for k, pat in KINDS if pat.search(f)), CODE)
        matrix[owner][kind] += n
        matrix[owner]["all"] += n
        if kind == CODE and python:
            python_self[python[-1]] += n
        for f in set(python):
            if OWNERS[0][1].search(f):
                inclusive[f] += n

    def pct(v: int) -> float:
        return round(100 * v / total, 1) if total else 0.0
    columns = ["all", CODE] + [k for k, _ in KINDS]
    table = {o: {c: pct(matrix[o][c]) for c in columns} for o in sorted(matrix, key=lambda o: -matrix[o]["all"])}
    table["all"] = {c: pct(sum(matrix[o][c] for o in matrix)) for c in columns}
    return {"samples": total, "raw": str(raw), "by_owner_and_kind": table,
            "python_self": [(f, pct(v)) for f, v in python_self.most_common(20)],
            "edge_inclusive": [(f, pct(v)) for f, v in inclusive.most_common(20)]}


# -- the report


def markdown(results: dict[str, Any]) -> str:
    m, s, r = results["machine"], results["summary"], results["ratios"]
    v = results["versions"]
    lines = [f"Recorded {m['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
             f"{m['os']}; {v['nginx']}, wrk {v['wrk']}, uvicorn {v['uvicorn']}, uvloop {v['uvloop']}, httptools "
             f"{v['httptools']}, {v['openssl']}; {results['args']['connections']} connections, "
             f"{results['args']['seconds']} s a run, {results['args']['rounds']} rounds.", "",
             "| file | target | hits/s (median) | rounds | p50 ms | p99 ms (median) | rounds | server CPU s | "
             "wrk CPU s |", "|---|---|---|---|---|---|---|---|---|"]
    for name in FILES:
        for target in TARGETS:
            c = s[target][name]
            lines.append(f"| {name} | {target} | {c['requests_per_s']:.0f} | "
                         f"{', '.join(f'{x:.0f}' for x in c['rounds_requests_per_s'])} | {c['p50_ms']:.2f} | "
                         f"{c['p99_ms']:.2f} | {', '.join(f'{x:.2f}' for x in c['rounds_p99_ms'])} | "
                         f"{c['server_cpu_s']:.2f} | {c['generator_cpu_s']:.2f} |")
    lines += ["", "| file | edge / nginx-cache hits/s | edge / nginx-disk hits/s | edge / nginx-cache p99 | "
              "edge / nginx-disk p99 | edge / asgi-bytes hits/s | edge / s3 hits/s | goal: >= 0.5x nginx-cache |",
              "|---|---|---|---|---|---|---|---|"]
    for name in FILES:
        q = r[name]
        met = "yes" if q["edge/nginx-cache"]["requests_per_s"] >= GOAL else "**no**"
        lines.append(f"| {name} | {q['edge/nginx-cache']['requests_per_s']} | {q['edge/nginx-disk']['requests_per_s']} "
                     f"| {q['edge/nginx-cache']['p99']} | {q['edge/nginx-disk']['p99']} | "
                     f"{q['edge/asgi-bytes']['requests_per_s']} | {q['edge/s3']['requests_per_s']} | {met} |")
    for label, p in results.get("profile", {}).items():
        columns = list(p["by_owner_and_kind"]["all"])
        lines += ["", f"Profile: {label}, {p['samples']} busy samples, {p['requests_per_s_while_sampled']} "
                  f"requests/s while sampled (`{p['raw']}`); % of the busy samples:", "",
                  "| owner | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for owner, row in p["by_owner_and_kind"].items():
            lines.append(f"| {owner} | " + " | ".join(f"{row[c]}" for c in columns) + " |")
        lines += ["", "Python functions, self: " + "; ".join(f"`{f}` {x}%" for f, x in p["python_self"][:14])]
        if p["edge_inclusive"]:
            lines += ["", "Edge functions, inclusive: " + "; ".join(f"`{f}` {x}%" for f, x in p["edge_inclusive"][:14])]
    w = results.get("one_write")
    if w:
        lines += ["", f"One write per small answer (the page, {w['seconds']} s runs, alternated twice): asgi-bytes "
                  f"{w['asgi-bytes']['requests_per_s']:.0f} requests/s (p99 {w['asgi-bytes']['p99_ms']} ms), with the "
                  f"head written together with the body {w['asgi-bytes-one-write']['requests_per_s']:.0f} requests/s "
                  f"(p99 {w['asgi-bytes-one-write']['p99_ms']} ms): {w['gain']}x."]
    if results.get("in_process"):
        lines += ["", "In process: " + ", ".join(f"{k} {v}" for k, v in results["in_process"].items()) + "."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10, help="each measured run (default 10)")
    ap.add_argument("--warmup", type=int, default=1, help="the warm-up before each run (default 1)")
    ap.add_argument("--connections", type=int, default=32, help="wrk's keep-alive connections (default 32)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds over every target (default 2)")
    ap.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                    help="py-spy the edge: when it misses the goal (auto), always, or never")
    ap.add_argument("--profile-seconds", type=int, default=6)
    args = ap.parse_args()
    t0 = time.monotonic()
    results = run(args)
    results["wall_s"] = round(time.monotonic() - t0, 1)
    out = HERE / "results" / "edge.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    print(f"\n({results['wall_s']} s; raw figures in {out.relative_to(HERE.parent)})", file=sys.stderr)


if __name__ == "__main__":
    main()
