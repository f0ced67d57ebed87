"""The repository documents what it cites: no citation of a file it does not hold, and every
`docs/<page>.md §N` citation names a page and a numbered section that exist."""
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Design notes the project started from live outside the repository (upper-case note names ending in .md, or the
# shared folder beside the checkout): cite docs/ instead.
NOTE_NAME = re.compile(r"\b[A-Z][A-Z_]*\.md\b")
OUTSIDE_FOLDER = "shared/" + "docs"
CITATION = re.compile(r"docs/(\w+)\.md(?: §(\d+)(?:-(\d+))?)?")


def tracked_text_files():
    names = subprocess.run(["git", "ls-files", "*.py", "*.md", "*.yaml", "*.json"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    return [REPO / name for name in names if (REPO / name).is_file()]


def sections(page):
    return {int(number) for number in re.findall(r"^## (\d+)\.", page.read_text(), re.M)}


def test_nothing_cites_documents_outside_the_repository():
    held = {path.name for path in tracked_text_files() if path.suffix == ".md"}
    offenders = []
    for path in tracked_text_files():
        text = path.read_text()
        missing = sorted(set(NOTE_NAME.findall(text)) - held)
        if missing or OUTSIDE_FOLDER in text:
            offenders.append(f"{path.relative_to(REPO)}: {missing or OUTSIDE_FOLDER}")
    assert not offenders, offenders


def test_every_docs_citation_names_an_existing_page_and_section():
    broken, count = [], 0
    for path in tracked_text_files():
        for page, first, last in CITATION.findall(path.read_text()):
            count += 1
            target = REPO / "docs" / f"{page}.md"
            wanted = set(range(int(first), int(last or first) + 1)) if first else set()
            if not target.is_file() or not wanted <= sections(target):
                broken.append(f"{path.relative_to(REPO)}: docs/{page}.md {first}-{last}")
    assert count >= 20 and not broken, broken
