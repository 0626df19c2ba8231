"""docs/architecture.md is a map: every file of the package is on it, and every file it names
exists. A file added or moved without the map changing fails here."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
DESCRIPTION_COLUMN = 37  # where the folder listing's descriptions begin


def listed_files() -> set[str]:
    """The package files the listing under "## The folders" names, as paths from the repo root,
    folders known by their indentation."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("## The folders", 1)[1].split("```", 2)[1]
    files, folders = set(), []  # folders: (indent, name) from the outside in
    for line in block.splitlines():
        left = line[:DESCRIPTION_COLUMN]
        if not left.strip() or left.startswith("train.py"):
            continue
        indent = len(left) - len(left.lstrip())
        while folders and folders[-1][0] >= indent:
            folders.pop()
        for word in left.split():
            if word.endswith("/"):
                folders.append((indent, word.rstrip("/")))
            elif word.endswith(".py"):
                files.add("/".join([name for _, name in folders] + [word]))
    return files


def test_every_package_file_is_on_the_map_and_nothing_else():
    actual = {str(path.relative_to(ROOT)) for path in (ROOT / "minitransformer").rglob("*.py")}
    listed = listed_files()
    assert sorted(actual - listed) == [], "files the map leaves out"
    assert sorted(listed - actual) == [], "files the map names that do not exist"


DOCS = [DOC, ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "exercises" / "README.md", ROOT / "benchmarks" / "README.md"]


def test_every_file_the_docs_name_exists():
    tracked = [str(path.relative_to(ROOT)) for path in ROOT.rglob("*")
               if path.is_file() and ".git" not in path.parts and ".venv" not in path.parts]
    missing = []
    for doc in DOCS:
        for name in sorted(set(re.findall(r"[\w/]+\.py\b", doc.read_text(encoding="utf-8")))):
            name = name.lstrip("/")  # a link's ../minitransformer/...
            if "NAME" in name or name.startswith("mywork/"):  # a pattern; the learner's folder
                continue
            if not any(path == name or path.endswith("/" + name) for path in tracked):
                missing.append(f"{doc.relative_to(ROOT)}: {name}")
    assert missing == []
