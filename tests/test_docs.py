"""Generated documentation is current."""

import subprocess
from pathlib import Path

from snncompile.ir import reference
from snncompile.passes import association_order

ROOT = Path(__file__).resolve().parent.parent


def test_ir_reference_is_current():
    assert (ROOT / "docs" / "ir-reference.md").read_text() == reference.render(), \
        "regenerate: python -m snncompile.ir.reference > docs/ir-reference.md"


def test_association_order_is_current():
    assert (ROOT / "docs" / "association-order.md").read_text() == association_order.render(), \
        "regenerate: python -m snncompile.passes.association_order > docs/association-order.md"


# Design notes that live outside the repository; the repository must stand on its own (cite papers or docs/).
OUTSIDE = ("../shared", "/work/", "MODELS.md", "DESIGN.md", "TARGETS.md", "STYLE.md")
TEXT_SUFFIXES = {".md", ".py", ".json", ".toml", ".txt", ".cfg", ".yml", ".yaml", ".html", ".sh"}
TEXT_NAMES = {"Makefile", "run"}
SKIP_DIRS = {".git", ".venv", "out", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache"}


def _text_files():
    """Files git tracks or would track (not ignored), else every file outside build and environment folders."""
    try:
        names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                               capture_output=True, check=True).stdout
        paths = [ROOT / n for n in names.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*") if not SKIP_DIRS & set(p.relative_to(ROOT).parts[:-1])]
    return [p for p in paths
            if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES) and p != Path(__file__).resolve()]


def test_no_references_outside_the_repository():
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
            for p in _text_files()
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
            if any(word in line for word in OUTSIDE)]
    assert not hits, "cite the paper or docs/ instead:\n" + "\n".join(hits)
