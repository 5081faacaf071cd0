"""A distribution's access logs, in CloudFront's standard log format, delivered to a bucket of the app.

As CloudFront's standard logging: gzip files of tab-separated lines (a ``#Version`` and a ``#Fields`` header line,
then one line per request) named ``<prefix><distribution id>.YYYY-MM-DD-HH.<unique id>.gz``, the hour the requests
came in. CloudFront delivers a file within the hour; locally one is written every ``interval`` seconds while there
are lines, and at shutdown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

FIELDS = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
          "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol "
          "cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
          "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type "
          "sc-content-type sc-content-len sc-range-start sc-range-end")
MAX_HELD = 8 * 1024 * 1024  # bytes of lines held before a file is written regardless of the interval
MAX_FIELD = 4096  # what a line keeps of a viewer's own text (a referer, a user agent, cookies, a query)


def _field(value: str) -> str:
    """A value as CloudFront writes one: URL-encoded, ``-`` for none; at most ``MAX_FIELD`` characters of it."""
    return quote(value[:MAX_FIELD], safe="/:;=,._-~()!*'@&+$") if value and value != "-" else "-"


@dataclass(frozen=True)
class LogLine:
    at: float
    pop: str
    sent: int
    client: str
    method: str
    domain: str
    path: str
    status: int
    referer: str
    user_agent: str
    query: str
    cookie: str
    result: str
    request_id: str
    host: str
    seconds: float
    content_type: str
    length: int

    def text(self) -> str:
        when = dt.datetime.fromtimestamp(self.at, dt.UTC)
        fields = [when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S"), self.pop, str(self.sent), self.client,
                  self.method, self.domain, _field(self.path), str(self.status), _field(self.referer),
                  _field(self.user_agent), _field(self.query), _field(self.cookie), self.result, self.request_id,
                  _field(self.host), "https", "-", f"{self.seconds:.3f}", "-", "TLSv1.3", "TLS_AES_128_GCM_SHA256",
                  self.result, "HTTP/1.1", "-", "-", "-", f"{self.seconds:.3f}", self.result,
                  _field(self.content_type), str(self.length), "-", "-"]
        return "\t".join(fields)


class AccessLog:
    """Lines of one distribution, written as files by ``put(key, data)`` (into the log bucket)."""

    def __init__(self, distribution_id: str, prefix: str, put: Callable[[str, bytes], None],
                 interval: float = 5.0) -> None:
        self.distribution_id, self.prefix, self.put, self.interval = distribution_id, prefix, put, interval
        self._lines: list[LogLine] = []
        self._held = 0  # about how many bytes the held lines take
        self.files = 0

    def add(self, line: LogLine) -> None:
        self._lines.append(line)
        self._held += 200 + min(len(line.referer) + len(line.user_agent) + len(line.cookie) + len(line.query),
                                4 * MAX_FIELD)
        if self._held >= MAX_HELD:  # written now, off the event loop when there is one
            lines, self._lines, self._held = self._lines, [], 0
            try:
                asyncio.get_running_loop().run_in_executor(None, self._write, lines)
            except RuntimeError:
                self._write(lines)

    def flush(self) -> int:
        """Write what is held, a file per hour the lines fall in; how many files."""
        lines, self._lines, self._held = self._lines, [], 0
        return self._write(lines)

    def _write(self, lines: list[LogLine]) -> int:
        hours: dict[str, list[str]] = {}
        for line in lines:
            hour = dt.datetime.fromtimestamp(line.at, dt.UTC).strftime("%Y-%m-%d-%H")
            hours.setdefault(hour, []).append(line.text())
        for hour, texts in hours.items():
            data = "#Version: 1.0\n#Fields: " + FIELDS + "\n" + "\n".join(texts) + "\n"
            key = f"{self.prefix}{self.distribution_id}.{hour}.{secrets.token_hex(4)}.gz"
            self.put(key, gzip.compress(data.encode(), mtime=0))
            self.files += 1
        return len(hours)

    def close(self) -> None:
        """Write what is held (at shutdown)."""
        self.flush()

    async def run(self) -> None:
        """Write a file every ``interval`` seconds while there are lines (the writes off the event loop)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            if self._lines:
                await loop.run_in_executor(None, self.flush)
