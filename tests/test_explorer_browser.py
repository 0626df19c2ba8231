"""The explorer page in a real browser (headless Chromium through Playwright): what it draws is
the model's numbers. After a click on a piece, a head button or a map of the model view, the
head view's lines are that layer's and head's attention weights, one line per key and each
line's opacity the weight (within the page's rounding); the model view has a map per layer and
head, captioned as inspect captions it; the page asks for nothing but its own file and logs no
error; MiniLM's page on two 20-word sentences stays under 1 MB and is drawn in under a second.

Needs Chromium from the system's packages (apt-get install chromium) and Playwright for Python
(pip install playwright; its own browser download, `playwright install`, is not used): without
either, every test here skips with the one reason below. Run them alone: pytest -m browser."""

import shutil
import time
from pathlib import Path

import pytest
import torch
from conftest import CORPUS, make_encoder

from minitransformer import inspect
from minitransformer.explorer import page as explorer
from minitransformer.loading import MINILM_INSTALL, load_model, minilm_directory
from minitransformer.sentence import SentenceEncoder

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEEDS = ("needs Chromium and Playwright for Python: apt-get install chromium; "
         "pip install playwright (no `playwright install`)")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(sync_playwright is None or CHROMIUM is None, reason=NEEDS)]

TWO = [CORPUS[3], "A cat sleeps."]
ROUNDING = 0.5 / explorer.SCALE + 1e-6  # a stored weight is within this of the model's
# Two sentences of 20 words each, for the size of MiniLM's page.
LONG = ["The old fisherman carefully repaired his torn nets while the morning tide slowly "
        "returned to the quiet harbour near town.",
        "Several young students quickly walked across the busy campus square because their "
        "favourite professor had announced a surprise exam today."]


def caption(weights: torch.Tensor) -> str:
    """What inspect's --html passes: the caption of its attention pictures."""
    return inspect.pattern_caption(inspect.attention_pattern(weights))


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def tiny(tokenizer, tmp_path_factory):
    """A scratch model's trace of TWO and its page: (trace, path)."""
    model = SentenceEncoder(tokenizer, make_encoder(tokenizer.vocab_size, seed=3))
    trace = inspect.trace_sentences(model, TWO)
    path = tmp_path_factory.mktemp("explorer") / "tiny.html"
    explorer.write_page(path, trace, caption, "a scratch model")
    return trace, path


class Opened:
    """A page opened from disk, with what it asked the network for and the errors it logged."""

    def __init__(self, browser, path: Path):
        self.tab = browser.new_page(viewport={"width": 1300, "height": 900})
        self.requests, self.errors = [], []
        self.tab.on("request", lambda request: self.requests.append(request.url))
        self.tab.on("console", lambda message: message.type == "error"
                    and self.errors.append(message.text))
        self.tab.on("pageerror", lambda error: self.errors.append(str(error)))
        self.url = path.resolve().as_uri()
        self.tab.goto(self.url)

    def lines(self) -> dict[tuple[int, int, int], float]:
        """The head view's lines: {(head, query, key): opacity}, all counted from 0."""
        drawn = self.tab.eval_on_selector_all(
            "#line-group line", "lines => lines.map(line => [+line.dataset.head, "
            "+line.dataset.query, +line.dataset.key, +line.getAttribute('stroke-opacity')])")
        return {(head, query, key): opacity for head, query, key, opacity in drawn}

    def click(self, selector: str) -> None:
        self.tab.click(selector)

    def check_offline_and_quiet(self) -> None:
        assert self.requests == [self.url]  # the file itself, nothing else
        assert self.errors == []
        self.tab.close()


def expected_lines(trace, sentence: int, layer: int, head: int, queries=None, keys=None) -> dict:
    """The model's weights of one layer and head as the page should draw them: every (query,
    key) pair asked for whose stored weight is not 0."""
    length = len(trace.pieces[sentence])
    weights = trace.encoder.attention[layer][sentence, head, :length, :length]  # (T, T)
    queries = range(length) if queries is None else queries
    keys = range(length) if keys is None else keys
    return {(head, query, key): float(weights[query, key]) for query in queries for key in keys
            if round(float(weights[query, key]) * explorer.SCALE) != 0}


def assert_drawn(drawn: dict, expected: dict) -> None:
    assert drawn.keys() == expected.keys()
    for place, weight in expected.items():
        assert drawn[place] == pytest.approx(weight, abs=ROUNDING), place


def test_lines_are_the_weights_of_the_clicked_piece_layer_and_head(browser, tiny):
    trace, path = tiny
    opened = Opened(browser, path)
    # at first: layer 1, head 1, every piece's lines
    assert_drawn(opened.lines(), expected_lines(trace, 0, 0, 0))
    opened.click("button.head[data-head='0']")  # head 1 off
    opened.click("button.head[data-head='2']")  # head 3 on
    opened.click("#lines text.query[data-index='2']")
    assert_drawn(opened.lines(), expected_lines(trace, 0, 0, 2, queries=[2]))
    # a map of the model view opens its layer and head; the clicked piece stays chosen
    opened.click("#grid figure.map[data-layer='1'][data-head='3']")
    assert opened.tab.input_value("#layer") == "1"
    pressed = opened.tab.eval_on_selector_all(
        "button.head", "buttons => buttons.map(b => b.getAttribute('aria-pressed'))")
    assert pressed == ["false", "false", "false", "true"]
    assert_drawn(opened.lines(), expected_lines(trace, 0, 1, 3, queries=[2]))
    # pointing at another piece shows its lines until the pointer leaves
    opened.tab.hover("#lines text.query[data-index='4']")
    assert_drawn(opened.lines(), expected_lines(trace, 0, 1, 3, queries=[4]))
    opened.tab.mouse.move(5, 5)
    assert_drawn(opened.lines(), expected_lines(trace, 0, 1, 3, queries=[2]))
    # a key: the lines that come to it; then the second sentence, two heads at once
    opened.click("#lines text.key[data-index='1']")
    assert_drawn(opened.lines(), expected_lines(trace, 0, 1, 3, keys=[1]))
    opened.click("input[name='sentence'][value='1']")
    opened.click("button.head[data-head='0']")
    both = {**expected_lines(trace, 1, 1, 0), **expected_lines(trace, 1, 1, 3)}
    assert_drawn(opened.lines(), both)
    opened.check_offline_and_quiet()


def test_the_model_view_is_every_layer_and_head_captioned_as_inspect_does(browser, tiny):
    trace, path = tiny
    opened = Opened(browser, path)
    layers, heads = len(trace.encoder.attention), trace.encoder.attention[0].shape[1]
    for sentence in (0, 1):
        if sentence == 1:
            opened.click("input[name='sentence'][value='1']")
        places = opened.tab.eval_on_selector_all(
            "#grid figure.map", "maps => maps.map(m => [+m.dataset.layer, +m.dataset.head, "
            "m.querySelector('figcaption').textContent, m.querySelectorAll('canvas').length])")
        assert len(places) == layers * heads
        length = len(trace.pieces[sentence])
        for layer, head, shown, canvases in places:
            weights = trace.encoder.attention[layer][sentence, head, :length, :length]
            assert shown == inspect.pattern_caption(inspect.attention_pattern(weights))
            assert canvases == 1
    pieces = opened.tab.eval_on_selector_all(
        "#lines text.query", "texts => texts.map(text => text.textContent)")
    assert pieces == trace.pieces[1]
    cosine = opened.tab.text_content("#cosine")
    assert cosine.endswith(f"{float(trace.normalized[0] @ trace.normalized[1]):.4f}")
    opened.check_offline_and_quiet()


@pytest.mark.skipif(minilm_directory() is None,
                    reason=f"needs the pretrained model: {MINILM_INSTALL}")
def test_minilm_page_is_small_and_quick(browser, tmp_path):
    assert [len(sentence.split()) for sentence in LONG] == [20, 20]
    trace = inspect.trace_sentences(load_model("minilm", "cpu"), LONG)
    size = explorer.write_page(tmp_path / "minilm.html", trace, caption, "minilm")
    assert size < 1_000_000
    started = time.perf_counter()
    opened = Opened(browser, tmp_path / "minilm.html")
    # drawn: the whole page parsed and its script run (the script runs before the load event)
    drawn_ms = opened.tab.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    assert drawn_ms < 1000, (drawn_ms, time.perf_counter() - started)
    assert opened.tab.locator("#grid figure.map").count() == 6 * 12
    opened.click("#grid figure.map[data-layer='5'][data-head='11']")
    opened.click("#lines text.query[data-index='3']")
    assert_drawn(opened.lines(), expected_lines(trace, 0, 5, 11, queries=[3]))
    opened.check_offline_and_quiet()
