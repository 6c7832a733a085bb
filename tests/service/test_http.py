"""The HTTP service, over real HTTP: both endpoints, info, and every kind of bad input."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from service.api_models import MAX_ARTICLE_CHARS, MAX_QUOTE_CHARS, MAX_QUOTES_PER_REQUEST
from tests.conftest import SEED_ARTICLE, SEED_QUOTES

SEED = [json.loads(line) for line in SEED_QUOTES.read_text(encoding="utf-8").splitlines()]


def post(server, path, payload=None, **kw):
    return httpx.post(f"{server.url}{path}", json=payload, timeout=60, **kw)


def assert_error(resp, status, field=None, limit=None, error_type=None):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert isinstance(body, dict) and body["error"], body
    if field is not None:
        assert body.get("field") == field, body
    if limit is not None:
        assert body.get("limit") == limit, body
    if error_type is not None:
        assert body["error_type"] == error_type, body
    return body


def test_classify_returns_labels_scores_and_model_tag(server, tiny_store):
    _, tag = tiny_store
    quotes = [{"text": q["text"], "speaker": q["speaker"], "context": q["context"]} for q in SEED[:3]]
    resp = post(server, "/classify", {"quotes": quotes})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert len(out) == 3
    for item in out:
        assert item["model"] == tag
        assert set(item["stance"]) == {"russia-israel", "russia-iran", "russia-turkey"}
        for dyad in item["stance"].values():
            assert dyad["label"] in {"cooperative", "hedging", "adversarial", "none"}
            assert abs(sum(dyad["scores"].values()) - 1) < 1e-3
            assert dyad["label"] == next(iter(dyad["scores"]))  # highest first
        assert item["sentiment"]["label"] in {"positive", "neutral", "negative"}


def test_classify_matches_the_in_process_predictor(server, tiny_store):
    """HTTP and CLI share one predictor: same quote, same numbers."""
    from models import model_store
    from models.input_encoding import QuoteInput
    from models.predictor import Predictor
    import bentoml

    home, tag = tiny_store
    path = home / "models" / tag.split(":")[0] / tag.split(":")[1]
    pred = Predictor.from_directory(path, tag).predict([QuoteInput(SEED[6]["text"], SEED[6]["speaker"], SEED[6]["context"])])[0]
    resp = post(server, "/classify", {"quotes": [{"text": SEED[6]["text"], "speaker": SEED[6]["speaker"], "context": SEED[6]["context"]}]})
    got = resp.json()[0]
    for dyad, s in pred.stance.items():
        assert got["stance"][dyad]["label"] == s.label
        for k, v in s.scores.items():
            assert abs(got["stance"][dyad]["scores"][k] - v) < 1e-4


def test_requested_dyads_include_an_untrained_one(server):
    resp = post(server, "/classify", {"quotes": [{"text": "Beijing and Tehran signed a 25-year pact.", "dyads": ["china-iran", "iran-russia"]}]})
    assert resp.status_code == 200, resp.text
    stance = resp.json()[0]["stance"]
    assert stance["china-iran"]["trained"] is False
    assert stance["russia-iran"]["trained"] is True


def test_analyze_finds_seed_quotes_with_offsets(server):
    article = SEED_ARTICLE.read_text(encoding="utf-8")
    resp = post(server, "/analyze", {"article": article})
    assert resp.status_code == 200, resp.text
    quotes = resp.json()["quotes"]
    assert [q["speaker"] for q in quotes] == [s["speaker"] for s in SEED]
    for q in quotes:
        assert article[q["start"]:q["end"]].replace("\n", " ")[:15] == q["text"][:15]
        assert "russia-israel" in q["stance"]


def test_info_lists_model_dyads_and_limits(server, tiny_store):
    info = httpx.get(f"{server.url}/info", timeout=10).json()
    assert info["model"] == tiny_store[1]
    assert info["default_dyads"] == ["russia-israel", "russia-iran", "russia-turkey"]
    assert info["limits"]["quotes"]["limit"] == MAX_QUOTES_PER_REQUEST


def test_openapi_lists_both_endpoints_with_examples(server):
    spec = httpx.get(f"{server.url}/docs.json", timeout=10).json()
    assert "/classify" in spec["paths"] and "/analyze" in spec["paths"]
    assert "example" in json.dumps(spec)


@pytest.mark.parametrize(
    "payload, status, field, limit",
    [
        ({"quotes": [{"text": "   "}]}, 400, "quotes[0].text", 1),
        ({"quotes": [{"text": ""}]}, 400, "quotes[0].text", 1),
        ({"quotes": [{"text": 5}]}, 400, "quotes[0].text", None),
        ({"quotes": [{"text": "x" * (MAX_QUOTE_CHARS + 1)}]}, 400, "quotes[0].text", MAX_QUOTE_CHARS),
        ({"quotes": [{"text": "ok ok"}] * (MAX_QUOTES_PER_REQUEST + 1)}, 400, "quotes", MAX_QUOTES_PER_REQUEST),
        ({"quotes": []}, 400, "quotes", 1),
        ({"quotes": [{"text": "fine", "colour": "red"}]}, 400, "quotes[0].colour", None),
        ({"quotes": [{"text": "fine", "dyads": ["russia"]}]}, 400, "quotes[0].dyads[0]", None),
        ({"quotes": "not a list"}, 400, "quotes", None),
        ({"article": "x" * (MAX_ARTICLE_CHARS + 1)}, None, None, None),
    ],
)
def test_bad_classify_inputs_get_4xx_naming_field_and_limit(server, payload, status, field, limit):
    if "article" in payload:
        assert_error(post(server, "/analyze", payload), 400, "article", MAX_ARTICLE_CHARS, "validation")
    else:
        assert_error(post(server, "/classify", payload), status, field, limit, "validation")
    # the server stays up and the next request succeeds
    assert post(server, "/classify", {"quotes": [{"text": "We remain partners."}]}).status_code == 200


def test_malformed_bodies_and_wrong_content_type(server):
    url = f"{server.url}/classify"
    assert_error(httpx.post(url, content=b"{not json", headers={"content-type": "application/json"}), 400, "body")
    assert_error(httpx.post(url, content=b'{"quotes": [{"text": "\xff\xfe"}]}', headers={"content-type": "application/json"}), 400, "body")
    deep = "[" * 200 + "]" * 200
    assert_error(httpx.post(url, content=deep.encode(), headers={"content-type": "application/json"}), 400, "depth", 16)
    assert_error(httpx.post(url, content=b"text=hi", headers={"content-type": "text/plain"}), 415, "content-type")
    assert_error(httpx.post(url, content=b"[1, 2]", headers={"content-type": "application/json"}), 400, "body")
    big = b'{"quotes": [{"text": "' + b"a" * (5 * 1024 * 1024) + b'"}]}'
    assert_error(httpx.post(url, content=big, headers={"content-type": "application/json"}, timeout=60), 413, "body")
    assert_error(httpx.get(url), 405)
    assert post(server, "/classify", {"quotes": [{"text": "Still serving."}]}).status_code == 200


def test_refusals_keep_the_connection_reusable(server):
    """A 4xx sent before the body is read must not leave a keep-alive client with a dead connection."""
    url = f"{server.url}/classify"
    body = json.dumps({"quotes": [{"text": "We remain partners. " * 50}]}).encode()
    with httpx.Client(timeout=30) as client:
        for _ in range(40):
            wrong = client.post(url, content=body, headers={"content-type": "text/plain"})
            assert wrong.status_code == 415 and wrong.headers.get("connection") != "close"
            ok = client.post(url, content=body, headers={"content-type": "application/json"})
            assert ok.status_code == 200, ok.text
    # a body declared over the limit is not read: the reply says the connection closes
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /classify HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                     b"content-length: 1000000000\r\n\r\n{")
        head = sock.recv(65536).decode(errors="replace").lower()
    assert head.startswith("http/1.1 413") and "connection: close" in head, head
    assert post(server, "/classify", {"quotes": [{"text": "Still serving."}]}).status_code == 200


def test_concurrent_requests_merged_by_the_batcher_keep_their_own_dyads(server):
    """Requests asking for different dyads share a forward pass; each still gets only what it asked for."""
    from concurrent.futures import ThreadPoolExecutor

    asks = [["russia-iran"], ["china-iran"], None, ["russia-israel", "israel-turkey"]] * 4
    bodies = [{"quotes": [{"text": SEED[i % len(SEED)]["text"], **({"dyads": d} if d else {})}]} for i, d in enumerate(asks)]
    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(pool.map(lambda b: post(server, "/classify", b), bodies))
    for ask, resp in zip(asks, answers):
        assert resp.status_code == 200, resp.text
        assert set(resp.json()[0]["stance"]) == set(ask or ["russia-israel", "russia-iran", "russia-turkey"])


def test_bench_load_generator_counts_every_answer(server):
    from benchmarks.http_load import encode_posts, run_closed_loop

    posts = encode_posts(server.url, "/classify", [{"quotes": [{"text": q["text"]}]} for q in SEED[:5]]
                         + [{"quotes": []}])  # the last one is refused: codes are counted as they come
    result = run_closed_loop(server.url, posts, concurrency=3, total=18)
    assert result.codes == {200: 15, 400: 3}
    assert len(result.latencies_s) == 18 and result.seconds > 0
    summary = result.summary()
    assert summary["quotes_per_s"] > 0 and summary["p50_ms"] <= summary["p99_ms"]


def test_null_for_an_optional_field_means_absent(server):
    """JSON clients (and pandas' to_json) send null for missing values."""
    body = {"quotes": [{"text": "We discussed regional issues with our partners,", "speaker": None, "context": None,
                        "speaker_actor": None, "dyads": None}]}
    r = post(server, "/classify", body)
    assert r.status_code == 200, r.text
    plain = post(server, "/classify", {"quotes": [{"text": "We discussed regional issues with our partners,"}]})
    assert r.json() == plain.json()
    r = post(server, "/analyze", {"article": "“We will answer,” Peskov said.", "dyads": None, "include_indirect": None})
    assert r.status_code == 200, r.text


def test_openapi_states_the_limits_validation_enforces(server):
    from service.api_models import MAX_ARTICLE_CHARS, MAX_CONTEXT_CHARS, MAX_DYADS_PER_QUOTE, MAX_QUOTE_CHARS

    doc = httpx.get(f"{server.url}/docs.json", timeout=10).json()
    assert doc["info"]["title"] == "Geopolitical stance classifier" and doc["info"]["version"] != "None"
    assert "shields.io" not in json.dumps(doc) and "BentoML Slack" not in json.dumps(doc)
    quote = doc["components"]["schemas"]["QuoteIn"]["properties"]
    assert quote["text"]["maxLength"] == MAX_QUOTE_CHARS and quote["text"]["pattern"] == r"\S"
    assert {"maxLength": MAX_CONTEXT_CHARS, "type": "string"} in quote["context"]["anyOf"]
    dyads = next(a for a in quote["dyads"]["anyOf"] if a.get("type") == "array")
    assert dyads["maxItems"] == MAX_DYADS_PER_QUOTE and "pattern" in dyads["items"]
    analyze = doc["paths"]["/analyze"]["post"]
    assert analyze["requestBody"]["required"] is True
    props = analyze["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert props["article"]["maxLength"] == MAX_ARTICLE_CHARS
    for code in ("400", "401", "413", "415", "429", "503", "504"):
        assert code in analyze["responses"], code


def test_wrong_method_gets_405_with_allow_header(server):
    r = httpx.request("TRACE", f"{server.url}/classify", timeout=10)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["error_type"] == "method_not_allowed"


def test_api_page_says_what_the_service_is_and_loads_nothing_from_the_network(server):
    page = httpx.get(f"{server.url}/", timeout=10).text
    assert "Geopolitical stance classifier" in page and "/ui" in page and "/labelling" in page
    assert "googletagmanager" not in page and "https://" not in page
    guide = httpx.get(f"{server.url}/labelling", timeout=10)
    assert guide.status_code == 200 and "C-MEDIATE" in guide.text
