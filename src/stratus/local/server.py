"""``stratus up``: bind, build the runtime, serve HTTPS, and publish ``endpoints.json`` once ready.

The listening socket is bound before anything else, so ``--port 0`` (any free
port) works and the URLs in ``endpoints.json`` are the real ones. The file is
written atomically and last, after the server accepts connections: a client
that sees it can use it. It is removed again on a clean shutdown (Ctrl-C or
SIGTERM), so a stale file never points at a dead server.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import uvicorn

from .. import interrupts
from ..clock import Clock, ManualClock, SystemClock
from ..errors import ConfigError
from ..graph import App
from ..ports.mailer import Mailer
from .guard import HEAD_TIMEOUT, MAX_CONNECTIONS, FastPath, guarded_protocol
from .infra.files import write_atomic
from .runtime import LocalRuntime, Options
from .services.s3.model import valid_bucket_name
from .services.ses.mailers import OutboxMailer, SmtpMailer
from .tls import NamedCertificates, ensure_tls

log = logging.getLogger("stratus")


@dataclass
class UpOptions:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 4580
    smtp: str | None = None
    manual_clock: bool = False
    region: str = "us-east-1"
    log_level: str = "warning"
    table_cache: bool = True
    api_cache: bool = True
    throttle: bool = True
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-For is believed; none by default
    head_timeout: float = HEAD_TIMEOUT
    max_connections: int = MAX_CONNECTIONS


# what the server (or a launcher, up.log) puts in a data dir: a folder holding only these, all its owner's, is one
OWN = {"endpoints.json", "admin-credentials.json", "tls", "keys", "outbox", "apps", "s3", "edge", "up.lock",
       "up.log"}
OWN_DATABASES = ("identity.db", "userpools.db")  # with their -wal and -shm files


def _ours(entry: Path) -> bool:
    name = entry.name
    made = (name in OWN or name.startswith(OWN_DATABASES)
            or (name.startswith(".") and name.endswith(".tmp")))  # an atomic write cut short
    return made and entry.lstat().st_uid == os.geteuid()


def claim_data_dir(path: Path) -> Path:
    """``path`` as the data dir, its owner's alone (0700): made so, or made so again if it is one already.

    A folder that holds other things and is open to other users (``--data-dir .`` in a project, or ``/tmp``)
    is refused rather than changed: its other users may need it, and the secrets may not go there."""
    if not path.exists():
        try:
            path.mkdir(parents=True, mode=0o700)
            return path
        except FileExistsError:  # made meanwhile (another start racing this one): checked as any other
            pass
        except OSError as exc:  # a file where a folder of the path should be, no permission, ...
            raise ConfigError(f"cannot make the data dir {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise ConfigError(f"data dir {path} is a file, not a folder")
    st = path.stat()
    if st.st_uid != os.geteuid():
        raise ConfigError(f"data dir {path} belongs to another user: give stratus a folder of your own (--data-dir)")
    if all(_ours(entry) for entry in path.iterdir()):
        path.chmod(0o700)
    elif st.st_mode & 0o077:
        raise ConfigError(f"data dir {path} holds other files and other users may open it; secrets cannot go "
                          "there: give stratus a folder of its own (--data-dir)")
    return path


class DataDirLock:
    """The running system's hold on its data dir: an exclusive lock on ``<data dir>/up.lock``, which names the
    holder. The kernel lets go when the process ends, however it ends, so a killed system never blocks the next."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "up.lock"
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot lock the data dir {data_dir}: {self.path}: {exc.strerror}") from None
        for wait in (0.0, 0.05, 0.1, 0.2):  # a command looking at the lock holds it shared for an instant
            time.sleep(wait)
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                continue
        else:
            holder = self._holder()
            os.close(self.fd)
            raise ConfigError(f"data dir {data_dir} is in use by a running stratus up ({holder}); stop it first, "
                              "or give this one a --data-dir of its own") from None
        self.note(None)

    def _holder(self) -> str:
        doc = _lock_note(self.fd)
        if doc.get("pid") is None:
            return "pid unknown"
        return f"pid {doc['pid']}" + (f", {doc['endpoint']}" if doc.get("endpoint") else ", starting")

    @staticmethod
    def holder(data_dir: Path) -> dict[str, Any] | None:
        """Who holds ``data_dir`` (``pid``, and ``endpoint`` once it serves; None while starting), or None when no
        running system does: the lock, not a pid that may have been reused, says so."""
        try:
            fd = os.open(data_dir / "up.lock", os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:  # held: a system is running there
                return _lock_note(fd)
            return None
        finally:
            os.close(fd)

    def note(self, endpoint: str | None) -> None:
        """Say who holds the lock, and where it serves once it knows."""
        data = orjson.dumps({"pid": os.getpid(), "endpoint": endpoint})
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)


def _lock_note(fd: int) -> dict[str, Any]:
    """What the lock's holder wrote in it (``pid``, ``endpoint``); both None if it cannot be read."""
    try:
        doc = orjson.loads(os.pread(fd, 4096, 0))
    except (OSError, ValueError):
        doc = None
    return doc if isinstance(doc, dict) else {"pid": None, "endpoint": None}


def _raise_open_file_limit(max_connections: int, announce: Callable[[str], None]) -> None:
    """Every connection holds a descriptor, as do the databases and object files: take the hard limit, and say so
    if even that is below what ``--max-connections`` needs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # a system may cap a process below its hard limit
            pass
    if soft != resource.RLIM_INFINITY and soft < max_connections + 256:
        announce(f"warning: the open-file limit ({soft}) is below --max-connections ({max_connections}) plus what "
                 "the server needs for itself; new clients may be refused before the cap is reached")


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None], handshake_timeout: float,
                 on_second_interrupt: Callable[[], None], on_stopped: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._handshake_timeout = handshake_timeout
        self._on_second_interrupt = on_second_interrupt
        self._on_stopped = on_stopped

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Ctrl-C and SIGTERM stop the server gracefully, and a Ctrl-C noted while it started does too. Unlike
        uvicorn's own: a signal the process was started ignoring stays ignored (a script's background job), and
        nothing is raised again afterwards (``serve`` turns what was caught into the exit status)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
                     if signal.getsignal(sig) is not signal.SIG_IGN}
        if (early := interrupts.noted()) is not None:  # came since the last look, while the loop was being made
            super().handle_exit(early, None)
        try:
            yield
        finally:
            self._on_stopped()  # while a signal still only asks to stop: nothing is left pointing at this process
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGINT and signal.SIGINT in self._captured_signals:
            self._on_second_interrupt()  # a second Ctrl-C: stop now, as while starting
        super().handle_exit(sig, frame)

    def stop_status(self) -> int:
        """The exit status the first signal caught calls for: 130 for a Ctrl-C, 0 for SIGTERM (or none)."""
        return interrupts.status(self._captured_signals[0]) if self._captured_signals else 0

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn gives the loop no TLS handshake timeout (the loop's default is 60 s): a connection that never
        # finishes its handshake has no protocol yet, so neither the head timeout nor the connection cap sees
        # it. The loop is handed one for the listening socket uvicorn creates here.
        loop = asyncio.get_running_loop()
        create_server = loop.create_server
        timeout = self._handshake_timeout

        async def with_handshake_timeout(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("ssl") is not None:
                kwargs.setdefault("ssl_handshake_timeout", timeout)
            return await create_server(*args, **kwargs)
        loop.create_server = with_handshake_timeout  # type: ignore[method-assign]
        try:
            await super().startup(sockets)
        finally:
            del loop.create_server  # the loop's own method again
        if self.started and not self.should_exit:  # a stop asked for while starting: never said to be up
            self._on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # An idle keep-alive TLS connection would otherwise wait for the client's close_notify (which an
        # idle client never sends) before the process can exit. Drop idle ones; in-flight requests finish.
        for conn in list(self.server_state.connections):
            cycle = getattr(conn, "cycle", None)
            transport = getattr(conn, "transport", None)
            if transport is not None and (cycle is None or cycle.response_complete):
                transport.abort()
        await super().shutdown(sockets)


def serve(apps: list[App], opts: UpOptions, announce: Callable[[str], None] = print) -> int:
    """Run until interrupted; the exit status (130 after Ctrl-C, 0 after SIGTERM)."""
    announce = _quiet_on_broken_pipe(announce)
    # the data dir holds secrets (keys, credentials, password hashes, tokens): only its owner reads what the
    # server makes there, whatever the umask the server was started with
    os.umask(0o077)
    data_dir = claim_data_dir(opts.data_dir.resolve())
    lock = DataDirLock(data_dir)  # one running system per data dir, for as long as this process lives
    _raise_open_file_limit(opts.max_connections, announce)
    endpoints_file = data_dir / "endpoints.json"
    try:
        endpoints_file.unlink(missing_ok=True)  # a file left by a crashed run must not point clients at a dead port
    except OSError as exc:
        raise ConfigError(f"{endpoints_file} cannot be replaced: {exc.strerror}") from None
    tls = ensure_tls(data_dir / "tls")
    sock = _listen(opts.host, opts.port)
    port = sock.getsockname()[1]
    # listening on every address: advertise loopback, which the certificate covers
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(opts.host, opts.host)
    endpoint = f"https://{f'[{shown}]' if ':' in shown else shown}:{port}"
    clock: Clock = ManualClock() if opts.manual_clock else SystemClock()
    mailer: Mailer = SmtpMailer(opts.smtp, clock) if opts.smtp else OutboxMailer(data_dir / "outbox", clock)
    runtime = LocalRuntime(apps, data_dir, endpoint=endpoint, clock=clock, mailer=mailer, region=opts.region,
                           options=Options(opts.table_cache, opts.api_cache, opts.throttle))
    sockets = [sock]
    fast_paths: dict[int, FastPath] = {}  # each distribution's port: its cache hits answered at the protocol
    for n, (_, edge) in enumerate(sorted(runtime.edges.items()), start=1):  # each distribution at its own root
        try:  # the port after the system's, when it is free, so a site's address stays the same from run to run
            edge_sock = _listen(opts.host, port + n if opts.port and port + n <= 65535 else 0)
        except ConfigError:
            edge_sock = _listen(opts.host, 0)
        sockets.append(edge_sock)
        edge_port = edge_sock.getsockname()[1]
        edge.url = f"https://{f'[{shown}]' if ':' in shown else shown}:{edge_port}"
        runtime.frontdoor.serve_port(edge_port, edge)
        fast_paths[edge_port] = edge.fast_hit
    doc: dict[str, Any] = runtime.endpoints(tls.ca_file)
    doc["pid"] = os.getpid()
    interrupts.stop_if_noted()

    def ready() -> None:
        write_atomic(endpoints_file, orjson.dumps(doc, option=orjson.OPT_INDENT_2), 0o600)  # holds the admin secret
        lock.note(endpoint)  # serving: commands may use it now
        if tls.created_ca:
            announce(f"created a local CA: {tls.ca_file}")
        announce(f"stratus is up at {endpoint} (CA: {tls.ca_file})")
        for name, entry in doc["apps"].items():
            announce(f"  {name}: {entry.get('api', '(no api)')}")
            for dist, facts in entry.get("distributions", {}).items():
                announce(f"  {name}/{dist}: {facts['url']}")
        announce(f"endpoints: {endpoints_file}")

    # a client's address is the connection's, as on AWS, unless the operator names a proxy it trusts to say
    # otherwise (aws:SourceIp decides policies: a header must not be able to choose it)
    config = uvicorn.Config(runtime.frontdoor, ssl_certfile=str(tls.cert_file), ssl_keyfile=str(tls.key_file),
                            log_level=opts.log_level, access_log=False, lifespan="on", loop="auto",
                            http=guarded_protocol(head_timeout=opts.head_timeout, max_connections=opts.max_connections,
                                                 fast_paths=fast_paths),
                            ws="none", server_header=False, timeout_keep_alive=30,
                            proxy_headers=bool(opts.trusted_proxies),
                            forwarded_allow_ips=list(opts.trusted_proxies) or None)
    config.load()  # makes the TLS context, which then answers <bucket>.localhost with a certificate of that name
    assert config.ssl is not None
    config.ssl.sni_callback = NamedCertificates(data_dir / "tls", valid_bucket_name)

    def forget_endpoints() -> None:
        try:
            current = orjson.loads(endpoints_file.read_bytes())
            if current.get("pid") == os.getpid():
                endpoints_file.unlink()
        except (OSError, ValueError, AttributeError):
            pass

    def stop_now() -> None:  # a second Ctrl-C: whatever is still in flight, leave now (as a crash would, safely)
        forget_endpoints()
        os._exit(interrupts.INTERRUPTED)

    # Until uvicorn's loop takes Ctrl-C and SIGTERM (``capture_signals``), a Ctrl-C stays noted only, so none lands
    # inside an import (uvloop's, when the loop is made); one noted meanwhile stops the server as soon as it runs.
    server = _Server(config, ready, handshake_timeout=opts.head_timeout, on_second_interrupt=stop_now,
                     on_stopped=forget_endpoints)
    try:
        interrupts.stop_if_noted()
        server.run(sockets=sockets)
    finally:
        forget_endpoints()
        for each in sockets:
            each.close()
        if server.started:
            announce(f"stratus stopped; its state stays in {data_dir}")
    return server.stop_status()


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: any free port); a one-line error when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except socket.gaierror as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}: {exc.strerror}; give --host an address of this machine") \
            from exc
    except OSError as exc:
        sock.close()
        fix = "pick another --port" if exc.errno == errno.EADDRINUSE else "give --host an address of this machine"
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; {fix}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _quiet_on_broken_pipe(announce: Callable[[str], None]) -> Callable[[str], None]:
    """``announce``, flushed; once its reader has gone (``stratus up | head -1``), a no-op that breaks nothing."""
    def say(line: str) -> None:
        try:
            announce(line)
            sys.stdout.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return say
