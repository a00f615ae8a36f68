"""The README and docs/ stand on their own: nothing points outside the repository, every relative
link (and its #anchor) resolves, and every environment variable the code reads is documented in
docs/configuration.md, so the reference cannot fall behind the code.

Variable names are found in the package sources, not listed here: `alias="…"` (pydantic
settings), `get("…")` (os.environ.get, env.get, getenv…), `environ["…"]`, `*_ENV = "…"`
constants, and the suffixes of prefix-built names (`f"{prefix}_CLIENT_KEY"`).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CONFIGURATION = REPO / "docs" / "configuration.md"

_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_PARENT_PATH = re.compile(r"(?:\.\./)+[\w.\-/]*")
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)

_NAME = r"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"
_ENV_READS = (
    re.compile(rf"alias=\"{_NAME}\""),
    re.compile(rf"\bget(?:env)?\(\s*\"{_NAME}\""),
    re.compile(rf"environ\[\s*\"{_NAME}\"\s*\]"),
    re.compile(rf"^\s*[A-Z][A-Z0-9_]*_ENV\s*(?::\s*\w+\s*)?=\s*\"{_NAME}\"", re.MULTILINE),
)
_PREFIXED_READ = re.compile(r"\bf\"\{\w+\}(_[A-Z][A-Z0-9_]*)\"")


def _id(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _package_sources() -> list[Path]:
    """Every .py file of the installable packages (top-level folders with an __init__.py)."""
    packages = [p for p in REPO.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"]
    return sorted(source for package in packages for source in package.rglob("*.py"))


def _variables_read() -> dict[str, str]:
    """Environment variable name -> the first source file that reads it."""
    found: dict[str, str] = {}
    for source in _package_sources():
        text = source.read_text(encoding="utf-8")
        for pattern in _ENV_READS:
            for name in pattern.findall(text):
                found.setdefault(name, _id(source))
    return found


def _suffixes_read() -> dict[str, str]:
    """Suffixes of names built from a prefix (`{prefix}_API_URL`) -> the file reading one."""
    found: dict[str, str] = {}
    for source in _package_sources():
        for suffix in _PREFIXED_READ.findall(source.read_text(encoding="utf-8")):
            found.setdefault(suffix, _id(source))
    return found


def _prose(path: Path) -> str:
    """The Markdown without fenced code blocks (links are not links inside them)."""
    return _FENCE.sub("", path.read_text(encoding="utf-8"))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, only word characters, spaces and hyphens
    kept (link text stays, its target goes), spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LMN")
    return kept.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in _HEADING.findall(_prose(path))}


def _links(path: Path) -> list[str]:
    return [target for target in _LINK.findall(_prose(path)) if not _EXTERNAL.match(target)]


def _inside(path: Path) -> bool:
    return path.resolve().is_relative_to(REPO)


def _resolves(doc: Path, target: str) -> bool:
    """The link names a file in the repository (and, for Markdown, a heading it has)."""
    file_part, _, anchor = target.partition("#")
    linked = (doc.parent / file_part).resolve() if file_part else doc
    if not _inside(linked) or not linked.exists():
        return False
    return not anchor or linked.suffix != ".md" or anchor in _anchors(linked)


def test_there_are_docs_to_check() -> None:
    names = {_id(path) for path in DOCS}
    expected = {"docs/architecture.md", "docs/configuration.md", "docs/operations.md"}
    assert {"README.md", *expected} <= names


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_no_path_leaves_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    leaving = [p for p in _PARENT_PATH.findall(text) if not _inside(doc.parent / p)]
    assert not leaving, f"{_id(doc)} points outside the repository: {leaving}"


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = [target for target in _links(doc) if not _resolves(doc, target)]
    assert not broken, f"{_id(doc)} has broken links: {broken}"


def test_the_readme_links_the_docs_and_starts_with_its_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line]
    assert commands == ["make demo", "make test"]
    top = readme[: readme.index("## ")]
    for name in ("architecture", "configuration", "operations"):
        assert f"(docs/{name}.md)" in top


def test_every_variable_the_code_reads_is_in_the_configuration_reference() -> None:
    found = _variables_read()
    # the search itself works: names read in each of the ways above are found
    assert {"REDIS_URL", "NOVACAST_POLICY", "OPENAI_API_KEY", "DISCORD_UPLOAD_LIMIT_BYTES"} <= set(
        found
    )
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", CONFIGURATION.read_text(encoding="utf-8")))
    missing = {name: where for name, where in found.items() if name not in documented}
    assert not missing, f"read by the code, missing from docs/configuration.md: {missing}"


def test_every_prefixed_variable_suffix_is_in_the_configuration_reference() -> None:
    suffixes = _suffixes_read()
    assert {"_CLIENT_KEY", "_API_URL", "_FILE"} <= set(suffixes)
    documented = re.findall(r"`([A-Z][A-Z0-9_]+)`", CONFIGURATION.read_text(encoding="utf-8"))
    missing = {
        suffix: where
        for suffix, where in suffixes.items()
        if not any(name.endswith(suffix) for name in documented)
    }
    assert not missing, f"prefixed names missing from docs/configuration.md: {missing}"
