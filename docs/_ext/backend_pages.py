"""The backends' pages, listed from the registry, so that no shared page names one.

A backend documents itself on its page, ``docs/backends/<name>.rst``: what it
accepts and computes and, in sections of fixed titles, its layer (``Layer``),
its implementations (``Implementations``) and its deployment paths
(``Deploying``). The shared pages reach those sections through two directives,
so that adding or removing a backend's files needs no edit elsewhere:

* ``.. backends-toctree::`` (``docs/backends/index.rst``): a toctree of every
  backend's page, in dispatch order (the registry's), with the options of
  ``toctree``;
* ``.. backend-pages:: <title>``: a list of links to the backends' pages that
  have a section of that title, in the same order ("None." where none has).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.directives.other import TocTree
from sphinx.util.docutils import SphinxDirective

from unielu._registry import registry

PAGES = Path(__file__).resolve().parent.parent / "backends"
_UNDERLINE = re.compile(r"([=\-~^\"'`#*+.:_])\1*")


def pages() -> list[str]:
    """The backends that have a page, in dispatch order."""
    return [spec.name for spec in registry() if (PAGES / f"{spec.name}.rst").exists()]


def section_titles(text: str) -> set[str]:
    """The titles of the sections of an rst page (a line underlined at least as long)."""
    lines = text.splitlines()
    return {
        title
        for title, under in itertools.pairwise(lines)
        if title.strip() and _UNDERLINE.fullmatch(under) and len(under) >= len(title)
    }


class BackendsToctree(TocTree):
    """A toctree of the backends' pages (the directive takes no content)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        self.content = StringList(pages(), source="backends-toctree")
        return super().run()


class BackendPages(SphinxDirective):
    """Links to the backends' pages that have a section titled as the argument."""

    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        title = self.arguments[0]
        names = []
        for name in pages():
            path = PAGES / f"{name}.rst"
            self.env.note_dependency(str(path))
            if title in section_titles(path.read_text(encoding="utf-8")):
                names.append(name)
        if not names:
            return [nodes.paragraph(text="None.")]
        lines = StringList([f"* :doc:`/backends/{name}`" for name in names], source="backend-pages")
        container = nodes.Element()
        self.state.nested_parse(lines, self.content_offset, container)
        return list(container.children)


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("backends-toctree", BackendsToctree)
    app.add_directive("backend-pages", BackendPages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
