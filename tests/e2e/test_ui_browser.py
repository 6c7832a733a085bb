"""The analyst's page in a real headless Chromium against a real server (tiny model, throwaway store).

Paste the seed article, run, see its twelve quotes with their speakers and a label per dyad, open
an explanation, export the table; an API key asked for on 401; readable at 200% zoom; and not one
request leaves localhost.  Skipped when Chromium (/usr/bin/chromium) or the ``playwright`` package
is missing; never runs ``playwright install``.  ``STANCE_UI_SCREENSHOT=1`` also saves
docs/ui-seed.png.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import ROOT, SEED_ARTICLE, SEED_QUOTES
from tests.service.conftest import Server, register_tiny_model

CHROMIUM = os.environ.get("STANCE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
API_KEY = "ui-test-key"
SCREENSHOT = ROOT / "docs" / "ui-seed.png"

if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
    pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium, or set STANCE_CHROMIUM)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs `pip install playwright`")

SEED = [json.loads(line) for line in SEED_QUOTES.read_text(encoding="utf-8").splitlines() if line.strip()]
ARTICLE = SEED_ARTICLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ui_store(tmp_path_factory, tiny_backbone):
    home = tmp_path_factory.mktemp("ui-bentoml-home")
    tag = register_tiny_model(home, tiny_backbone, tmp_path_factory.mktemp("ui-reg"))
    return home, tag


def _serve(home: Path, extra_env: dict | None = None):
    srv = Server(home, extra_env=extra_env)
    try:
        srv.wait_ready()
    except Exception:
        srv.stop()
        raise
    return srv


@pytest.fixture(scope="module")
def ui_server(ui_store):
    srv = _serve(ui_store[0])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def keyed_server(ui_store):
    srv = _serve(ui_store[0], {"STANCE_API_KEY": API_KEY})
    yield srv
    srv.stop()


class Browser:
    """A fresh persistent context (own user-data dir) whose every request to a non-local host is aborted."""

    def __init__(self, user_data: Path, downloads: Path):
        self.requested: list[str] = []
        self.blocked: list[str] = []
        self._pw = sync_api.sync_playwright().start()
        self.context = self._pw.chromium.launch_persistent_context(
            str(user_data), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            accept_downloads=True, downloads_path=str(downloads), viewport={"width": 1280, "height": 900},
            service_workers="block",
        )
        self.context.route("**/*", self._route)
        self.context.on("request", lambda req: self.requested.append(req.url))

    def _route(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            self.blocked.append(url)
            route.abort()
        else:
            route.continue_()

    def page(self):
        page = self.context.new_page()
        page.set_default_timeout(60_000)
        return page

    def off_host(self) -> list[str]:
        return [u for u in self.requested
                if urlsplit(u).scheme not in ("data", "blob", "about") and urlsplit(u).hostname not in LOCAL_HOSTS]

    def close(self) -> None:
        try:
            self.context.close()
        finally:
            self._pw.stop()


@pytest.fixture()
def browser(tmp_path):
    b = Browser(tmp_path / "chromium-profile", tmp_path / "downloads")
    yield b
    b.close()
    assert b.blocked == [], f"the page tried to leave localhost: {b.blocked}"
    assert b.off_host() == [], f"requests to other hosts: {b.off_host()}"


def _open(browser: Browser, server: Server):
    page = browser.page()
    resp = page.goto(f"{server.url}/ui")
    assert resp is not None and resp.ok, resp and resp.status
    return page


def _run_seed(page, dyads: str | None = None) -> None:
    page.wait_for_function("document.getElementById('model-tag').textContent.includes(':')")
    if dyads is not None:
        page.fill("#dyads", dyads)
    page.fill("#article", ARTICLE)
    page.click("#run")
    page.wait_for_selector("tr.quote-row")


def test_seed_article_quotes_speakers_labels_explanation_and_export(browser, ui_server, ui_store, tmp_path):
    _, tag = ui_store
    page = _open(browser, ui_server)
    page.wait_for_function(f"document.getElementById('model-tag').textContent === {json.dumps(tag)}")
    # The dyads field starts with the model's default dyads; a dyad it never saw is marked as such.
    assert page.input_value("#dyads") == "russia-israel, russia-iran, russia-turkey"
    page.fill("#dyads", "russia-israel, russia-iran, india-pakistan")
    tags = page.locator("#dyad-tags li").all_inner_texts()
    assert tags == ["russia-israel", "russia-iran", "india-pakistan — never trained"]

    _run_seed(page)
    rows = page.locator("tr.quote-row")
    assert rows.count() == 12
    speakers = page.locator("tr.quote-row .speaker-name").all_inner_texts()
    assert speakers == [q["speaker"] for q in SEED]
    texts = page.locator("tr.quote-row .qtext").all_inner_texts()
    for shown, gold in zip(texts, SEED):
        assert shown.strip() == gold["text"].strip()
    labels = {"cooperative", "hedging", "adversarial", "none"}
    for i in range(12):
        chips = rows.nth(i).locator(".chip")
        assert chips.count() == 3
        assert [chips.nth(j).get_attribute("data-dyad") for j in range(3)] == ["russia-israel", "russia-iran",
                                                                                "india-pakistan"]
        for j in range(3):
            assert chips.nth(j).get_attribute("data-label") in labels
            low = chips.nth(j).get_attribute("data-low") == "true"
            assert (chips.nth(j).locator(".lowmark").count() == 1) == low  # low confidence is visibly marked
        assert "never trained" in chips.nth(2).inner_text()
        assert "never trained" not in chips.nth(0).inner_text()
    assert page.locator("#model-tag").inner_text() == tag

    # Every quotation is highlighted in the article; selecting one focuses its row.
    marks = page.locator("#article-view a.quote-mark")
    assert sorted({int(marks.nth(i).get_attribute("data-quote")) for i in range(marks.count())}) == list(range(1, 13))
    first_mark = page.locator('#article-view a.quote-mark[data-quote="1"]').first
    assert first_mark.inner_text().startswith(SEED[0]["text"][:20])
    page.locator('#article-view a.quote-mark[data-quote="7"]').first.click()
    assert page.evaluate("document.activeElement.id") == "quote-row-7"

    # Explain quote 1 for russia-iran: its words and its context's words are shaded, with a legend.
    page.locator('#quote-row-1 .explain-btn[data-dyad="russia-iran"]').click()
    page.wait_for_selector("#explain-row-1 .shaded .w")
    panel = page.locator("#explain-row-1 .explanation")
    assert panel.get_attribute("data-dyad") == "russia-iran"
    words = panel.locator(".shaded .w")
    found = httpx.post(f"{ui_server.url}/analyze", json={"article": ARTICLE}, timeout=60).json()["quotes"][0]
    n_quote, n_context = len(found["text"].split()), len(found["context"].split())
    assert n_context > 0
    assert words.count() == n_quote + n_context
    assert panel.locator(".shaded").first.locator(".w").count() == n_quote
    weights = [float(words.nth(i).get_attribute("data-weight")) for i in range(words.count())]
    assert any(w != 0 for w in weights)
    shaded = [words.nth(i).evaluate("e => getComputedStyle(e).backgroundColor") for i in range(words.count())]
    assert any(c not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)") for c in shaded)
    assert panel.locator(".legend .scale").count() == 1
    assert tag in panel.inner_text()

    if os.environ.get("STANCE_UI_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.evaluate("""() => {
            for (const id of ['article', 'article-view']) document.getElementById(id).scrollTop = 0;
            window.scrollTo(0, 0);
        }""")
        height = min(3200, page.evaluate("document.documentElement.scrollHeight"))
        page.screenshot(path=str(SCREENSHOT), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": height})

    # Export the whole table as CSV: twelve data rows, in order, with a column per dyad.
    with page.expect_download() as info:
        page.click("#export-csv")
    path = tmp_path / "export.csv"
    info.value.save_as(path)
    table = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert len(table) == 12
    assert [r["speaker"] for r in table] == [q["speaker"] for q in SEED]
    assert {"russia-iran_label", "india-pakistan_trained", "sentiment_label", "model"} <= set(table[0])
    assert all(r["russia-israel_label"] in labels and r["model"] == tag for r in table)
    assert {r["india-pakistan_trained"] for r in table} == {"false"}

    # Filter by dyad and label; the JSON export holds exactly the rows shown.
    label = table[0]["russia-iran_label"]
    page.select_option("#filter-dyad", "russia-iran")
    page.select_option("#filter-label", label)
    expected = [int(r["n"]) for r in table if r["russia-iran_label"] == label]
    shown = [int(x) for x in page.locator("tr.quote-row").evaluate_all("rows => rows.map(r => r.dataset.quote)")]
    assert shown == expected
    assert all(page.locator("tr.quote-row .chip").evaluate_all(
        "cs => cs.map(c => c.dataset.dyad === 'russia-iran' && c.dataset.label === '%s')" % label))
    with page.expect_download() as info:
        page.click("#export-json")
    doc = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert [q["n"] for q in doc["quotes"]] == expected and doc["model"] == tag
    assert all(set(q["stance"]) == {"russia-iran"} for q in doc["quotes"])


def test_errors_are_shown_in_words(browser, ui_server):
    page = _open(browser, ui_server)
    page.wait_for_function("document.getElementById('model-tag').textContent.includes(':')")
    # Caught on the page: not a dyad.
    page.fill("#article", ARTICLE)
    page.fill("#dyads", "russia_iran")
    page.click("#run")
    err = page.locator("#error")
    err.wait_for(state="visible")
    assert "not a dyad" in err.inner_text() and "russia_iran" in err.inner_text()
    # Refused by the service: more dyads than a request may name; its message and limit are shown.
    page.fill("#dyads", ", ".join(f"russia-a{i}" for i in range(17)))
    page.click("#run")
    page.wait_for_function("document.getElementById('error').innerText.includes('HTTP 400')")
    text = err.inner_text()
    assert "did not accept" in text and "16" in text
    assert page.locator("tr.quote-row").count() == 0


def test_the_page_is_behind_the_api_key_when_one_is_set(keyed_server):
    refused = httpx.get(f"{keyed_server.url}/ui/", timeout=10)
    assert refused.status_code == 401 and refused.json()["error_type"] == "unauthorized"
    page = httpx.get(f"{keyed_server.url}/ui/", params={"key": API_KEY}, timeout=10)
    assert page.status_code == 200 and "<title>Stance analyst</title>" in page.text
    header = httpx.get(f"{keyed_server.url}/ui/", headers={"X-API-Key": API_KEY}, timeout=10)
    assert header.status_code == 200


def test_a_401_asks_for_the_api_key_and_sends_it_on_later_calls(browser, keyed_server):
    """The page opened with the key sends it on every call; a wrong key brings up the key field."""
    page = browser.page()
    resp = page.goto(f"{keyed_server.url}/ui/?key=wrong-key")
    assert resp is not None and resp.status == 401  # the page itself is behind the key
    resp = page.goto(f"{keyed_server.url}/ui/?key={API_KEY}")
    assert resp is not None and resp.ok, resp and resp.status
    sent: list[str | None] = []
    page.on("request", lambda req: sent.append(req.headers.get("x-api-key")) if req.method == "POST" else None)
    page.wait_for_function("document.getElementById('model-tag').textContent.includes(':')")  # /info is open
    page.fill("#article", ARTICLE)
    page.click("#run")
    page.wait_for_selector("tr.quote-row")
    assert page.locator("tr.quote-row").count() == 12
    page.evaluate("document.getElementById('api-key').value = ''")
    page.evaluate("window.__stanceSetKey && window.__stanceSetKey('rotated-key')")
    page.locator('#quote-row-2 .explain-btn').first.click()
    page.locator("#auth").wait_for(state="visible")  # the rotated key is refused: the page asks for one
    assert "API key" in page.locator("#error").inner_text()
    assert page.evaluate("document.activeElement.id") == "api-key"
    page.fill("#api-key", API_KEY)
    page.keyboard.press("Enter")  # submits the key form and retries the call
    page.wait_for_selector("#explain-row-2 .shaded .w")
    assert sent[0] == API_KEY and sent[-1] == API_KEY and "rotated-key" in sent


def test_keyboard_only_and_200_percent_zoom(browser, ui_server):
    page = _open(browser, ui_server)
    page.set_viewport_size({"width": 640, "height": 900})  # a 1280-pixel window at 200% zoom
    page.wait_for_function("document.getElementById('model-tag').textContent.includes(':')")
    page.fill("#article", ARTICLE)
    # Tab order: article -> file -> dyads -> checkbox -> Run; Space on the checkbox, Enter on Run.
    page.focus("#article")
    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
    assert order == ["article-file", "dyads", "include-indirect", "run"]
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")  # focus is visible
    page.keyboard.press("Enter")
    page.wait_for_selector("tr.quote-row")
    assert page.locator("tr.quote-row").count() == 12
    # Explain from the keyboard: focus the first Explain button and press Enter.
    page.locator("#quote-row-3 .explain-btn").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#explain-row-3 .shaded .w")
    assert page.evaluate("document.activeElement.id") == "explain-heading-3"
    # Nothing needs sideways scrolling at this width.
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
