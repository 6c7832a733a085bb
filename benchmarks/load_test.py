"""Bounded overload test against a running service on loopback.

``python -m benchmarks.load_test --url http://127.0.0.1:3000 --duration 60``

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
from urllib.parse import urlparse

from benchmarks.http_load import closed_loop, encode_posts, open_loop

BODY = {"quotes": [{"text": "We do not change our position in this regard; strikes on a sovereign state must stop,",
                    "speaker": "a Foreign Ministry spokesperson",
                    "context": "The ministry commented on overnight strikes near Damascus on Tuesday."}] * 8}
ALLOWED = {200, 429}


def _loopback_only(url: str) -> None:
    host = urlparse(url).hostname or ""
    if not (host in ("localhost", "::1") or host.startswith("127.")):
        raise SystemExit(f"--url must point at loopback (127.0.0.0/8, localhost, ::1), got {host!r}")


async def main_async(args: argparse.Namespace) -> dict:
    (request,) = encode_posts(args.url, "/classify", [BODY])
    await closed_loop(args.url, [request], 1, 2)  # warm-up
    calibration = await closed_loop(args.url, [request], 1, max(4, int(args.calibrate_seconds * 20)))
    rate = calibration.requests / calibration.seconds
    offered = rate * args.factor
    load = await open_loop(args.url, request, offered, args.duration, args.max_requests)
    after = await closed_loop(args.url, [request], 1, 1)
    latencies = sorted(load.latencies_s)
    pct = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3) if latencies else None  # noqa: E731
    return {"sustainable_rps": round(rate, 2), "offered_rps": round(offered, 2), "duration_s": args.duration,
            "sent": load.requests, "codes": {int(k): v for k, v in load.codes.items()}, "p50_s": pct(0.5),
            "p99_s": pct(0.99), "after_status": next(iter(after.codes))}


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
