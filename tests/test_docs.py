"""README.md and docs/*.md keep their promises to a reader. The README stays short enough to
read to the end, with a table of contents whose links land and a picture that exists. No page
refers to the tracker ("issue 30", "(#12)"): such a reference means nothing to a reader, so each
page says what it meant instead. Every link into the repository lands on a file, and on a
heading where it names one; every link into the glossary names one of its terms."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GLOSSARY = ROOT / "docs" / "glossary.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200
TOC_HEADING = "## Contents"

# [text](target) and ![alt](source); the text may hold one level of brackets ("[[MASK]](...)").
LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(([^()\s]*)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")

# A reference to the tracker, in the text a reader sees (link targets removed first, so that an
# anchor such as "#L190" or a URL is not read as one). "step 100", "seed 0", "layer 6" and
# "SST-2" are not references.
TRACKER = [
    re.compile(r"\b[Ii]ssues?\s*#?\s*\d+"),                   # issue 30, Issues 16/18, issue #4
    re.compile(r"(?<![\w&/#])#\d+\b"),                         # #12, (#12)
    re.compile(r"\b(?:PR|[Pp]ull requests?)\s*#?\s*\d+"),      # PR 7, pull request #7
    re.compile(r"\b[Ii]tems?\s+\d+(?:\s*-\s*\d+)?\b"),         # item 3, items 3-4
    re.compile(r"\b(?:[Tt]he|[Tt]his|[Tt]hat|[Aa]n)\s+issue(?:'s)?\b"),  # "the target"
]


def page_name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def prose(text: str) -> str:
    """The text with every line of fenced code emptied, so that line numbers stay."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            lines.append("")
        else:
            lines.append("" if fenced else line)
    return "\n".join(lines)


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (a link's label, not its target) in lower
    case, without punctuation, spaces turned into hyphens."""
    text = LINK.sub(lambda match: match.group(2), heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def headings(text: str) -> list[tuple[int, str]]:
    """(level, heading text) of every heading outside fenced code."""
    matches = (HEADING.match(line) for line in prose(text).splitlines())
    return [(len(match.group(1)), match.group(2)) for match in matches if match]


def anchors(text: str) -> set[str]:
    """Every anchor a link may name in a page; a repeated heading gets -1, -2, ... as on
    GitHub."""
    seen: dict[str, int] = {}
    result = set()
    for _, heading in headings(text):
        name = anchor(heading)
        result.add(f"{name}-{seen[name]}" if name in seen else name)
        seen[name] = seen.get(name, 0) + 1
    return result


def links(text: str) -> list[tuple[int, bool, str]]:
    """(line number, is an image, target) of every link outside fenced code; a link's text may
    run over two lines."""
    text = prose(text)
    return [(line_of(text, match.start()), bool(match.group(1)), match.group(3))
            for match in LINK.finditer(text)]


def tracker_references(text: str) -> list[str]:
    """'line N: the match' for every tracker reference in the text, code included."""
    def blank_target(match: re.Match) -> str:  # the text kept, the target blanked
        return f"{match.group(1)}[{match.group(2)}]({' ' * len(match.group(3))})"

    visible = LINK.sub(blank_target, text)
    return [f"line {line_of(visible, match.start())}: {match.group(0)!r}"
            for pattern in TRACKER for match in pattern.finditer(visible)]


def broken_links(page: Path, text: str) -> list[str]:
    """Every link of `page` into the repository that lands on no file, or on no heading of the
    Markdown page it names."""
    broken = []
    for number, _, target in links(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:: outside the repository
            continue
        path, _, name = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"line {number}: {target} (no such file)")
        elif name and file.suffix == ".md" and name not in anchors(file.read_text("utf-8")):
            broken.append(f"line {number}: {target} (no such heading)")
    return broken


def toc_problems(text: str) -> list[str]:
    """What is wrong with a page's table of contents: missing, links that land nowhere, or a
    section it leaves out."""
    lines = text.splitlines()
    if TOC_HEADING not in lines:
        return [f"no {TOC_HEADING!r} heading"]
    start = lines.index(TOC_HEADING) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("#")), len(lines))
    targets = [target for _, _, target in links("\n".join(lines[start:end]))]
    problems = [f"{target}: not a heading of the page" for target in targets
                if not target.startswith("#") or target[1:] not in anchors(text)]
    sections = [f"#{anchor(heading)}" for level, heading in headings(text)
                if level == 2 and f"## {heading}" != TOC_HEADING]
    problems += [f"{section}: a section the contents leave out" for section in sections
                 if section not in targets]
    return problems + ([] if len(targets) >= 5 else [f"only {len(targets)} entries"])


def test_the_readme_is_short_enough_to_read_to_the_end():
    count = len(README.read_text(encoding="utf-8").splitlines())
    assert count <= README_MAX_LINES, f"README.md has {count} lines; move detail into docs/"


def test_the_readme_has_a_table_of_contents_that_leads_to_every_section():
    assert toc_problems(README.read_text(encoding="utf-8")) == []


def test_the_readme_shows_a_picture_that_exists():
    pictures = [target for _, image, target in links(README.read_text(encoding="utf-8"))
                if image]
    assert pictures, "README.md shows no picture"
    for picture in pictures:
        assert (ROOT / picture).is_file(), picture
        assert picture.endswith((".png", ".jpg", ".svg", ".gif")), picture


@pytest.mark.parametrize("page", PAGES, ids=page_name)
def test_no_page_refers_to_the_tracker(page):
    assert tracker_references(page.read_text(encoding="utf-8")) == [], (
        "say what the reference meant instead (a section of docs/, the option, the date)")


@pytest.mark.parametrize("page", PAGES, ids=page_name)
def test_every_link_into_the_repository_lands(page):
    assert broken_links(page, page.read_text(encoding="utf-8")) == []


def test_every_glossary_link_names_a_term_of_the_glossary():
    terms = anchors(GLOSSARY.read_text(encoding="utf-8"))
    bad = []
    for page in PAGES:
        for number, _, target in links(page.read_text(encoding="utf-8")):
            path, _, name = target.partition("#")
            into_glossary = (page.parent / path).resolve() == GLOSSARY if path else (
                page == GLOSSARY)
            if into_glossary and name and name not in terms:
                bad.append(f"{page_name(page)}, line {number}: {target}")
    assert bad == []
    assert len(terms) >= 50  # the glossary is a glossary, not a stub
