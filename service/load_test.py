"""Bounded overload test against a running service on loopback.

``python -m service.load_test --url http://127.0.0.1:3000 --duration 60``

1. measures the sustainable rate (closed loop, one client, a few seconds);
2. offers 4x that rate open-loop for ``--duration`` seconds (bounded count
   and time, loopback only);
3. checks every answer is 200 or the documented overload code (429), and
   that a normal request succeeds right after.
Prints one JSON summary; exits 1 on any other status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from urllib.parse import urlparse

import httpx

BODY = {"quotes": [{"text": "We do not change our position in this regard; strikes on a sovereign state must stop,",
                    "speaker": "a Foreign Ministry spokesperson",
                    "context": "The ministry commented on overnight strikes near Damascus on Tuesday."}] * 8}
ALLOWED = {200, 429}
# The server (uvicorn under BentoML) closes a keep-alive connection after 5 s idle.  A client
# must give up idle connections sooner, or it may send on one the server is closing at that
# instant and get a bare transport error: the usual HTTP/1.1 rule, client idle timeout < server's.
CLIENT_KEEPALIVE_S = 2.0


def _loopback_only(url: str) -> None:
    host = urlparse(url).hostname or ""
    if not (host in ("localhost", "::1") or host.startswith("127.")):
        raise SystemExit(f"--url must point at loopback (127.0.0.0/8, localhost, ::1), got {host!r}")


async def sustainable_rate(client: httpx.AsyncClient, url: str, seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        r = await client.post(f"{url}/classify", json=BODY)
        r.raise_for_status()
        done += 1
    return done / (time.perf_counter() - start)


async def overload(url: str, rate: float, duration: float, max_requests: int) -> dict:
    codes: Counter[int] = Counter()
    latencies: list[float] = []

    limits = httpx.Limits(max_connections=512, keepalive_expiry=CLIENT_KEEPALIVE_S)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def one() -> None:
            t = time.perf_counter()
            try:
                r = await client.post(f"{url}/classify", json=BODY)
                codes[r.status_code] += 1
            except httpx.HTTPError as exc:
                codes[-1] += 1
                print(f"transport error: {exc!r}", file=sys.stderr)
            latencies.append(time.perf_counter() - t)

        tasks = []
        start = time.perf_counter()
        interval = 1.0 / rate
        k = 0
        while time.perf_counter() - start < duration and k < max_requests:
            tasks.append(asyncio.create_task(one()))
            k += 1
            await asyncio.sleep(max(0.0, start + k * interval - time.perf_counter()))
        await asyncio.gather(*tasks)
        after = await client.post(f"{url}/classify", json=BODY)
    latencies.sort()
    pct = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3) if latencies else None  # noqa: E731
    return {"sent": k, "codes": dict(codes), "p50_s": pct(0.5), "p99_s": pct(0.99), "after_status": after.status_code}


async def main_async(args: argparse.Namespace) -> dict:
    async with httpx.AsyncClient(timeout=120) as client:
        await client.post(f"{args.url}/classify", json=BODY)  # warm-up
        rate = await sustainable_rate(client, args.url, args.calibrate_seconds)
    offered = rate * args.factor
    result = await overload(args.url, offered, args.duration, args.max_requests)
    return {"sustainable_rps": round(rate, 2), "offered_rps": round(offered, 2), "duration_s": args.duration, **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--factor", type=float, default=4.0)
    parser.add_argument("--calibrate-seconds", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=20000)
    args = parser.parse_args(argv)
    _loopback_only(args.url)
    summary = asyncio.run(main_async(args))
    print(json.dumps(summary))
    bad = {c: n for c, n in summary["codes"].items() if c not in ALLOWED}
    return 1 if bad or summary["after_status"] != 200 else 0


if __name__ == "__main__":
    sys.exit(main())
