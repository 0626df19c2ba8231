"""docs/walkthrough.md is what tools/make_walkthrough.py writes today: the same text, and every
number within the last printed digit (so that a change of BLAS does not fail it, but a change of
the model, the code or a line number does). And the page keeps its promises to a reader: each
link lands on the definition or line it names, the printed weights are the softmax of the printed
scores, and every piece it names is one position of the sentence."""

import importlib.util
import math
import re
from pathlib import Path

import pytest

from minitransformer.inspect import DOMINANT_SHARE, PATTERNS
from minitransformer.loading import MINILM_INSTALL, load_model, minilm_directory

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"[-+]?\d+\.\d+")


def load_tool():
    spec = importlib.util.spec_from_file_location("make_walkthrough",
                                                  ROOT / "tools" / "make_walkthrough.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(minilm_directory() is None,
                    reason=f"needs the pretrained model: {MINILM_INSTALL}")
def test_the_walkthrough_matches_the_code():
    fresh = load_tool().render(load_model("minilm"))
    stored = (ROOT / "docs" / "walkthrough.md").read_text(encoding="utf-8")
    hint = "docs/walkthrough.md is stale: run python tools/make_walkthrough.py"
    assert NUMBER.sub("#", fresh) == NUMBER.sub("#", stored), hint
    for new, old in zip(NUMBER.findall(fresh), NUMBER.findall(stored)):
        decimals = len(old.split(".")[1])
        assert float(new) == pytest.approx(float(old), abs=1.5 * 10 ** -decimals), hint


# The page's own promises, checked on the stored page (no model needed).
PAGE = ROOT / "docs" / "walkthrough.md"
LINK = re.compile(r"\[`([\w.]+):(\d+)`\]\(\.\./([\w/.]+)#L(\d+)\)")


def page_rows(prefix: str) -> list[str]:
    """The cells of the page's table row that starts with `prefix` (e.g. '| score |')."""
    (row,) = [line for line in PAGE.read_text(encoding="utf-8").splitlines()
              if line.startswith(prefix)]
    return [cell.strip() for cell in row.strip("|").split("|")[1:]]


def linked_lines(heading_text: str) -> list[tuple[list[str], int]]:
    """For each link in the heading that contains `heading_text`: (the linked file's lines, the
    0-based index of the linked line), after checking that the label and the anchor agree."""
    (heading,) = [line for line in PAGE.read_text(encoding="utf-8").splitlines()
                  if line.startswith("## ") and heading_text in line]
    found = []
    for name, label_line, path, anchor_line in LINK.findall(heading):
        assert label_line == anchor_line and Path(path).name == name, heading
        found.append(((ROOT / path).read_text(encoding="utf-8").splitlines(), int(anchor_line) - 1))
    assert found, f"no link in {heading!r}"
    return found


def test_every_section_link_lands_on_a_definition():
    for heading in ("Word pieces", "Embeddings", "Attention in layer 1", "layers (", "Pooling"):
        for lines, index in linked_lines(heading)[:1]:  # the section's own link
            assert re.match(r"\s*(def|class) ", lines[index]), (heading, lines[index])


def test_the_attention_link_lands_on_the_numbered_steps():
    ((lines, index),) = linked_lines("Attention in layer 1")
    body = []
    for line in lines[index + 1:]:
        if re.match(r"\s*def ", line):
            break
        body.append(line)
    starts = [next((i for i, line in enumerate(body) if line.strip().startswith(f"# {number}.")),
                   None) for number in range(1, 6)]
    assert None not in starts and starts == sorted(starts), (lines[index], starts)
    # The reader meets step 1 first: no branch to another path before it.
    before = [line.strip() for line in body[:starts[0]]]
    assert not any(line.startswith(("if ", "return ")) for line in before), before


def test_the_normalisation_link_lands_on_the_normalising_call():
    (_, (lines, index)) = linked_lines("normalisation")
    assert "F.normalize(" in lines[index], lines[index]


def test_softmax_of_the_printed_scores_gives_the_printed_weights():
    scores = [float(cell) for cell in page_rows("| score |") if cell]
    printed = page_rows("| weight |")[:-1]  # the last cell is the sum
    decimals = len(printed[0].split(".")[1])
    exponentials = [math.exp(score - max(scores)) for score in scores]
    recomputed = [e / sum(exponentials) for e in exponentials]
    assert len(recomputed) == len(printed)
    for mine, theirs in zip(recomputed, printed):
        assert abs(mine - float(theirs)) <= 0.5 * 10 ** -decimals + 1e-12, (mine, theirs)


def test_every_named_piece_is_one_position():
    pieces = [cell.strip("`") for cell in page_rows("| piece |")]
    names = [cell.strip("`") for cell in page_rows("| key |")[:-1]]  # the last cell is "sum"
    for row in range(1, 7):
        links = page_rows(f"| {row} |")[1]
        names += [side for link in links.split(", ") for side in link.rsplit(" ", 1)[0].split("->")]
    for name in names:
        numbered = re.fullmatch(r"(.+)\((\d+)\)", name)
        if numbered:
            assert pieces[int(numbered.group(2))] == numbered.group(1), name
        else:
            assert pieces.count(name) == 1, f"{name!r} could be any of {pieces.count(name)} pieces"


def test_the_picture_caption_states_a_pattern_per_drawn_head():
    """The caption under the attention picture: a cell per drawn (layer, head) that names a
    pattern holding more than half of the weight, or 'mixed' with two shares of at most half,
    the larger first; its summary counts the same heads."""
    tool = load_tool()
    heads = page_rows("| |")
    assert heads == [f"head {head + 1}" for head in tool.PICTURE_HEADS]
    counted = {}
    for layer in (1, 6):  # tool.picture_layers of MiniLM's 6 layers
        for number, cell in enumerate(page_rows(f"| layer {layer} |"), start=1):
            mixed = re.fullmatch(r"mixed: (.+) (\d\.\d+), (.+) (\d\.\d+)", cell)
            if mixed:
                first, second = float(mixed.group(2)), float(mixed.group(4))
                assert {mixed.group(1), mixed.group(3)} <= {*PATTERNS, "other"}, cell
                assert DOMINANT_SHARE >= first >= second, cell
                counted.setdefault("mixed", []).append((layer - 1, number - 1))
            else:
                name, share = cell.rsplit(" ", 1)
                assert name in PATTERNS and float(share) > DOMINANT_SHARE, cell
                counted.setdefault(name, []).append((layer - 1, number - 1))
    (summary,) = [line for line in PAGE.read_text(encoding="utf-8").splitlines()
                  if line.startswith("Of the ")]
    assert f"Of the {sum(map(len, counted.values()))} heads drawn: " in summary
    for name, panels in counted.items():
        assert f"{name}: {len(panels)} ({tool.heads_named(panels)})" in summary, (name, summary)
