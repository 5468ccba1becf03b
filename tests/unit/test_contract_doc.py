"""The repository explains its own contract, in docs/contract.md.

No tracked file points at a document outside the repository (the spec it was first written
against, the folder beside it, an issue tracker), every markdown link stays inside the
repository, and every "contract §N" cited anywhere is a heading of docs/contract.md.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT = REPO_ROOT / "docs" / "contract.md"

# What a pointer outside the repository looks like. This file spells them out, so it is not
# searched itself.
OUTSIDE_POINTERS = {
    "the outside spec (cite docs/contract.md as 'contract §N')": re.compile(r"\bSPEC\b"),
    "the folder beside the repository": re.compile(r"\.\./shared\b|/work/shared\b"),
    "the outside style guide": re.compile(r"\bSTYLE\.md\b"),
    "an issue tracker (say the thing instead)": re.compile(r"\bissue #?\d+\b", re.IGNORECASE),
}
SECTION = r"§\d+(?:\.\d+)*"
HEADING = re.compile(rf"^#{{1,6}}\s+({SECTION})", re.MULTILINE)
# "contract §2.1", and the sections listed after it: "contract §2.1, §2.2", "contract §2 and §7".
CITATION = re.compile(rf"\bcontract\s+{SECTION}(?:(?:,\s*|\s+and\s+){SECTION})*")
# [text](target) in markdown; the target up to a space (a title) or the closing parenthesis.
MARKDOWN_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)")


def tracked_text_files() -> dict[str, str]:
    """Every file git tracks in the repository that reads as UTF-8 text, by relative path."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    texts = {}
    for name in listed.decode("utf-8").split("\0"):
        path = REPO_ROOT / name
        if not name or not path.is_file() or path == Path(__file__).resolve():
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # fonts, images
    assert "README.md" in texts
    return texts


def contract_sections() -> set[str]:
    return {match.rstrip(".") for match in HEADING.findall(CONTRACT.read_text(encoding="utf-8"))}


def test_no_tracked_file_points_outside_the_repository():
    found = [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {what}: {match.group(0)!r}"
        for name, text in tracked_text_files().items()
        for what, pattern in OUTSIDE_POINTERS.items()
        for match in pattern.finditer(text)
    ]
    assert found == []


def test_markdown_links_stay_inside_the_repository():
    broken = []
    for name, text in tracked_text_files().items():
        if not name.endswith(".md"):
            continue
        for target in MARKDOWN_LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
                continue  # a URL or an anchor on the same page
            path = ((REPO_ROOT / name).parent / target.split("#")[0]).resolve()
            if not path.is_relative_to(REPO_ROOT) or not path.exists():
                broken.append(f"{name}: {target}")
    assert broken == []


def test_the_contract_has_every_section():
    sections = contract_sections()
    assert {f"§{n}" for n in range(1, 9)} <= sections


def test_every_cited_section_is_a_heading_of_the_contract():
    sections = contract_sections()
    cited: dict[str, set[str]] = {}
    for name, text in tracked_text_files().items():
        for citation in CITATION.finditer(text):
            for section in re.findall(SECTION, citation.group(0)):
                cited.setdefault(section.rstrip("."), set()).add(name)
    assert "§4" in cited  # the citations are found at all
    missing = {
        section: sorted(names) for section, names in cited.items() if section not in sections
    }
    assert missing == {}


def test_the_contract_cites_only_its_own_sections():
    sections = contract_sections()
    text = CONTRACT.read_text(encoding="utf-8")
    assert {s for s in re.findall(SECTION, text)} - sections == set()
