"""Property-based checks: random request bodies never crash the guard, and schemathesis finds no 5xx."""

from __future__ import annotations

import json

import schemathesis
from hypothesis import HealthCheck, given, settings
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


def test_schemathesis_finds_no_server_errors(server):
    """Cases generated from the service's own OpenAPI schema, valid and invalid, sent over HTTP."""
    schema = schemathesis.openapi.from_url(f"{server.url}/docs.json")
    checked = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path not in ("/classify", "/analyze"):
            continue
        checked.append(op.path)

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(timeout=60)
            assert response.status_code < 500, (case.path, case.body, response.text[:500])
            if response.status_code >= 400:
                body = response.json()
                assert body["error"] and body["error_type"], body

        check()
    assert sorted(checked) == ["/analyze", "/classify"]
