"""A bounded closed-loop HTTP load generator for loopback benchmarks.

Why not httpx: on a two-core machine the client shares the CPU with the
server it measures.  Thirty-two threads of httpx spent about a millisecond of
CPU per request, enough to cap the measured service rate by itself.  This
client keeps N keep-alive connections on one asyncio loop, sends requests
encoded before the clock starts, and reads only the status line and
``Content-Length``: tens of microseconds per request.  It reports its own CPU
time so a reader can see what it took from the server.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence
from urllib.parse import urlparse


@dataclass
class LoadResult:
    requests: int
    seconds: float
    client_cpu_s: float
    codes: Counter = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    def summary(self, items_per_request: int = 1) -> dict[str, Any]:
        return {
            "quotes_per_s": round(self.requests * items_per_request / self.seconds, 1),
            "p50_ms": self.percentile_ms(0.5),
            "p95_ms": self.percentile_ms(0.95),
            "p99_ms": self.percentile_ms(0.99),
            "codes": dict(self.codes),
            "client_cpu_share": round(self.client_cpu_s / self.seconds, 3),
        }


def encode_posts(url: str, path: str, bodies: Sequence[dict[str, Any]]) -> list[bytes]:
    """Complete HTTP/1.1 requests, ready to write to a socket."""
    host = urlparse(url).netloc
    out = []
    for body in bodies:
        payload = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n")
        out.append(head.encode() + payload)
    return out


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status code and whether the server will close the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close = None, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            while True:  # chunked body: size line, data, CRLF; a zero-size chunk ends it
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    return status, close
    await reader.readexactly(length or 0)
    return status, close


async def closed_loop(url: str, requests: Sequence[bytes], concurrency: int, total: int) -> LoadResult:
    """``concurrency`` clients, each sending its next request when the last one is answered, ``total`` in all."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    result = LoadResult(total, 0.0, 0.0)
    counter = iter(range(total))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for k in counter:
                start = time.perf_counter()
                writer.write(requests[k % len(requests)])
                status, close = await _read_response(reader)
                result.latencies_s.append(time.perf_counter() - start)
                result.codes[status] += 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - wall
    result.client_cpu_s = time.process_time() - cpu
    return result


def run_closed_loop(url: str, requests: Sequence[bytes], concurrency: int, total: int) -> LoadResult:
    return asyncio.run(closed_loop(url, requests, concurrency, total))


async def open_loop(url: str, request: bytes, rate: float, duration: float, max_requests: int) -> LoadResult:
    """Requests sent at a fixed ``rate`` whatever the answers do (overload testing), on pooled
    keep-alive connections; a transport error counts as status -1."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    result = LoadResult(0, 0.0, 0.0)

    async def one() -> None:
        start = time.perf_counter()
        try:
            reader, writer = idle.pop() if idle else await asyncio.open_connection(host, port)
            writer.write(request)
            status, close = await _read_response(reader)
            if close:
                writer.close()
            else:
                idle.append((reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = -1
        result.codes[status] += 1
        result.latencies_s.append(time.perf_counter() - start)

    cpu, wall = time.process_time(), time.perf_counter()
    tasks = []
    interval = 1.0 / rate
    while time.perf_counter() - wall < duration and len(tasks) < max_requests:
        tasks.append(asyncio.create_task(one()))
        await asyncio.sleep(max(0.0, wall + len(tasks) * interval - time.perf_counter()))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    result.requests = len(tasks)
    result.seconds = time.perf_counter() - wall
    result.client_cpu_s = time.process_time() - cpu
    return result
