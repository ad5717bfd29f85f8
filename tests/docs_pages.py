"""The docs as the tests read them. A backend documents itself on its page,
``docs/backends/<name>.rst``, in sections of fixed titles ("Layer",
"Implementations", "Deploying"), which the shared pages link through the
registry (``docs/_ext/backend_pages.py``): the tests that read a shared page
read those sections with it."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKEND_PAGES = ROOT / "docs" / "backends"
_UNDERLINE = re.compile(r"([=\-~^\"'`#*+.:_])\1*")


def section(text: str, title: str) -> str:
    """The body of the section of an rst page titled ``title``, its subsections
    included ("" if the page has none)."""
    lines = text.splitlines(True)
    levels: list[str] = []  # underline characters, in the order of first use
    start, level = None, 0
    for i, (heading, under) in enumerate(itertools.pairwise(lines)):
        heading, under = heading.rstrip("\n"), under.rstrip("\n")
        if not (heading.strip() and _UNDERLINE.fullmatch(under) and len(under) >= len(heading)):
            continue
        if under[0] not in levels:
            levels.append(under[0])
        if start is None:
            if heading == title:
                start, level = i + 2, levels.index(under[0])
        elif levels.index(under[0]) <= level:
            return "".join(lines[start:i])
    return "" if start is None else "".join(lines[start:])


def backend_sections(title: str) -> dict[str, str]:
    """The section ``title`` of each backend's page that has one, by page name."""
    found = {}
    for page in sorted(BACKEND_PAGES.glob("*.rst")):
        body = section(page.read_text(), title)
        if body:
            found[page.stem] = body
    return found
