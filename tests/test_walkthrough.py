"""docs/walkthrough.md is what tools/make_walkthrough.py writes today: the same text, and every
number within the last printed digit (so that a change of BLAS does not fail it, but a change of
the model, the code or a line number does)."""

import importlib.util
import re
from pathlib import Path

import pytest

from minitransformer.loading import MINILM_INSTALL, load_sentence_encoder, minilm_directory

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"[-+]?\d+\.\d+")


def load_tool():
    spec = importlib.util.spec_from_file_location("make_walkthrough", ROOT / "tools" / "make_walkthrough.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(minilm_directory() is None, reason=f"needs the pretrained model: {MINILM_INSTALL}")
def test_the_walkthrough_matches_the_code():
    fresh = load_tool().render(load_sentence_encoder("minilm"))
    stored = (ROOT / "docs" / "walkthrough.md").read_text(encoding="utf-8")
    hint = "docs/walkthrough.md is stale: run python tools/make_walkthrough.py"
    assert NUMBER.sub("#", fresh) == NUMBER.sub("#", stored), hint
    for new, old in zip(NUMBER.findall(fresh), NUMBER.findall(stored)):
        decimals = len(old.split(".")[1])
        assert float(new) == pytest.approx(float(old), abs=1.5 * 10 ** -decimals), hint
