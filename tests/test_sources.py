"""Every threshold's source points inside the repo: each `source` of an exercise or programme file, and each
`docs/clinical.md §x` / `docs/platform.md §x` citation in the code, names a section that exists in that doc; and a
source that cites no section says it is a judgement call, a measurement or a product requirement."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = {"clinical": ROOT / "docs" / "clinical.md", "platform": ROOT / "docs" / "platform.md"}
DATA_FILES = sorted(
    [*(ROOT / "formcheck/core/exercises").glob("*.toml"), *(ROOT / "formcheck/programme/data").glob("*.toml")]
)
CITING_TREES = ("formcheck", "tools", "benchmarks", "tests", "scripts", "docs")
TEXT_SUFFIXES = {".py", ".toml", ".js", ".html", ".css", ".md", ".json", ".sh"}

HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
REF = r"§\s?\d+(?:\.\d+)?(?:\s?[-–]\s?\d+(?:\.\d+)?)?"
CITATION = re.compile(rf"docs/(clinical|platform)\.md\s*\(?((?:{REF})(?:\s*(?:/|,|;|and|or)\s*{REF})*)")
ONE_REF = re.compile(r"§\s?(\d+)(?:\.(\d+))?(?:\s?[-–]\s?(\d+)(?:\.(\d+))?)?")
# What a source may say instead of citing a section (each is a reason, not a citation):
NON_CITATION = re.compile(r"judgement call|measured|product brief|issue \d+", re.IGNORECASE)


def sections(doc: Path) -> set[str]:
    return set(HEADING.findall(doc.read_text(encoding="utf-8")))


def expand(refs: str) -> list[str]:
    """'§3.2/§3.3' -> ['3.2', '3.3']; '§3.8-3.10' -> ['3.8', '3.9', '3.10']; '§6' -> ['6']."""
    out: list[str] = []
    for major, minor, end_major, end_minor in ONE_REF.findall(refs):
        if not minor:
            out.append(major)
        elif end_major and end_minor and end_major == major:
            out.extend(f"{major}.{n}" for n in range(int(minor), int(end_minor) + 1))
        else:
            out.append(f"{major}.{minor}")
            if end_major:
                out.append(f"{end_major}.{end_minor}" if end_minor else end_major)
    return out


def sources(node: object, where: str = "") -> Iterator[tuple[str, str]]:
    """(key path, text) of every `source` string anywhere in a parsed TOML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}" if where else key
            if key == "source" and isinstance(value, str):
                yield path, value
            else:
                yield from sources(value, path)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from sources(item, f"{where}[{i}]")


def citing_files() -> list[Path]:
    files = []
    for tree in CITING_TREES:
        for path in sorted((ROOT / tree).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "node_modules" not in path.parts:
                files.append(path)
    return files


@pytest.fixture(scope="module")
def known() -> dict[str, set[str]]:
    return {name: sections(doc) for name, doc in DOCS.items()}


def test_the_docs_have_numbered_sections(known: dict[str, set[str]]) -> None:
    # the sections the code leans on most; guards the heading parser against matching nothing
    assert {"0.1", "3.2", "3.3", "3.10", "4.1", "6"} <= known["clinical"]
    assert {"1", "2", "4", "7"} <= known["platform"]


def test_expand_reads_lists_and_ranges() -> None:
    assert expand("§3.2/§3.3") == ["3.2", "3.3"]
    assert expand("§3.8-3.10") == ["3.8", "3.9", "3.10"]
    assert expand("§0.1, §3.10") == ["0.1", "3.10"]
    assert expand("§6") == ["6"]


def test_every_data_source_is_a_citation_or_a_stated_reason(known: dict[str, set[str]]) -> None:
    problems = []
    count = 0
    for path in DATA_FILES:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for key, text in sources(data):
            count += 1
            where = f"{path.relative_to(ROOT)} {key}"
            cites = "docs/clinical.md" in text or "docs/platform.md" in text
            if not cites and not NON_CITATION.search(text):
                problems.append(f"{where}: cites no docs/clinical.md section and says no reason: {text!r}")
            if "§" in text and not cites:
                problems.append(f"{where}: a § with no document name: {text!r}")
            if cites and "§" not in text and not NON_CITATION.search(text):
                problems.append(f"{where}: names a doc but no section: {text!r}")
            doc = "platform" if "docs/platform.md" in text else "clinical"
            for ref in expand(text):  # a bare '§3.3' later in a source cites the same doc
                if ref not in known[doc]:
                    problems.append(f"{where}: docs/{doc}.md has no section {ref}: {text!r}")
    assert count > 60, f"only {count} sources found: is the TOML walk broken?"
    assert not problems, "\n".join(problems)


def test_every_citation_in_the_code_resolves(known: dict[str, set[str]]) -> None:
    problems = []
    count = 0
    for path in citing_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in CITATION.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            for ref in expand(match.group(2)):
                count += 1
                if ref not in known[match.group(1)]:
                    problems.append(f"{path.relative_to(ROOT)}:{line}: docs/{match.group(1)}.md has no section {ref}")
    assert count > 50, f"only {count} citations found: is the pattern broken?"
    assert not problems, "\n".join(problems)


def test_nothing_points_outside_the_repo_for_a_source() -> None:
    """The team's reference folder is not in a clone: nothing may cite it (the labelled videos may be read)."""
    banned = ("shared/" + "reference", "stack-" + "recipes", "reference/" + "clinical")
    files = [*citing_files(), ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml", ROOT / ".ci" / "run"]
    problems = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if any(b in line for b in banned)
    ]
    assert not problems, "these lines point at a folder a clone does not have:\n" + "\n".join(problems)
