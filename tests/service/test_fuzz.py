"""Property-based checks: random request bodies never crash the guard, and schemathesis finds no 5xx."""

from __future__ import annotations

import json

import subprocess
import sys
from hypothesis import given, settings
from hypothesis import strategies as st

from service.request_guard import RequestError, check_body

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)
quote_like = st.fixed_dictionaries(
    {"text": st.one_of(st.text(max_size=60), st.integers(), st.none())},
    optional={"speaker": json_values, "context": json_values, "dyads": json_values, "extra": json_values},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"quotes": st.one_of(st.lists(quote_like, max_size=5), json_values)})))
def test_guard_accepts_or_refuses_with_4xx_never_crashes(payload):
    raw = json.dumps(payload).encode()
    try:
        check_body("/classify", raw)
    except RequestError as exc:
        assert 400 <= exc.status < 500
        assert exc.body["error"] and exc.body["error_type"] == "validation"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_refused_cleanly(raw):
    try:
        check_body("/analyze", raw)
    except RequestError as exc:
        assert 400 <= exc.status < 500


def test_schemathesis_finds_no_schema_mismatch_and_no_server_error(server):
    """The schemathesis CLI, fed the service's own /docs.json, with its default checks: valid bodies are
    accepted, invalid ones refused, every status and body matches the schema, no 5xx, 405s carry Allow."""
    out = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/docs.json", "--max-examples", "25",
         "--workers", "1", "--seed", "7"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "No issues found" in out.stdout
