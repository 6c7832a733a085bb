"""``stance serve`` stopped the way a supervisor stops it: every process it started ends, in-flight
requests finish first, and the port is free for the restart."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time

import httpx
import pytest

from tests.conftest import SEED_ARTICLE
from tests.conftest import Server


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False  # something still listens
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as every server binds
        s.bind(("127.0.0.1", port))
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stance_serve_stops_everything_after_in_flight_requests(tiny_store, signum):
    home, _ = tiny_store
    srv = Server(home, command=[sys.executable, "-m", "service.cli", "serve", "--no-build"])
    try:
        srv.wait_ready()
        started = srv.group_pids()
        assert srv.proc.pid in started
        article = SEED_ARTICLE.read_text(encoding="utf-8") * 8  # a request that takes a while
        outcome: dict = {}

        def in_flight() -> None:
            r = httpx.post(f"{srv.url}/analyze", json={"article": article[:99_000]}, timeout=120)
            outcome["status"], outcome["quotes"] = r.status_code, len(r.json().get("quotes", []))

        worker = threading.Thread(target=in_flight)
        worker.start()
        time.sleep(0.8)
        os.kill(srv.proc.pid, signum)  # the process the README's command started, not its group
        srv.proc.wait(60)
        worker.join(60)
        assert outcome.get("status") == 200 and outcome["quotes"] > 12, outcome
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(p) for p in started):
            time.sleep(0.2)
        assert not [p for p in started if _alive(p)], "processes left running after the signal"
        assert _port_free(srv.port)
        again = Server(home, command=[sys.executable, "-m", "service.cli", "serve", "--no-build"], port=srv.port)
        try:  # a supervisor's restart on the same port works at once
            again.wait_ready()
            assert httpx.get(f"{again.url}/readyz", timeout=5).status_code == 200
        finally:
            again.stop()
    finally:
        srv.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
