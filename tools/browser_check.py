"""The built docs in a real browser: ``python -m tools.browser_check``.

Opens the main pages of ``docs/_build/html`` (build them first:
``sphinx-build -W -b html docs docs/_build/html``) in headless Chromium and
checks, on each page:

* every local link (``href`` into the built site, with its ``#anchor``) resolves;
* no maths is left as raw LaTeX (``\\(``, ``\\[``, ``$$`` or ``\\begin{`` in the
  rendered text, or a math element that holds no rendered MathML);
* at 1280 px, no table is wider than the content column, and no code block,
  maths or figure is wider unless it scrolls inside itself (``overflow-x``
  ``auto`` or ``scroll``: a long code line may scroll, a table's columns may not
  hide);
* every image loads, and no sidebar on screen is empty.

Screenshots of each page at 1400, 1024 and 420 px go to
``docs/_build/screenshots/``. Exit status 1 when a check fails.

Needs Playwright's Python package and a Chromium: Debian's ``chromium``
(``apt-get install -y chromium``) or the binary named by ``UNIELU_CHROMIUM``.
Playwright drives that browser; it downloads none.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "docs" / "_build" / "html"
SHOTS = ROOT / "docs" / "_build" / "screenshots"
WIDTHS = (1400, 1024, 420)
CHECK_WIDTH = 1280
HEADER_MAX = 88  # px: the one-line top bar is 80 px high (4rem and its padding)
SKIP = {"genindex.html", "search.html", "py-modindex.html"}

# Runs in the page: what the checks need, measured by the browser itself.
MEASURE = r"""
() => {
  const article = document.querySelector("article.bd-article") || document.body;
  const column = article.getBoundingClientRect();
  const wide = [];
  for (const el of article.querySelectorAll("table, pre, div.highlight, img, figure, div.math")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    // An element may be wider than the column only inside a box that scrolls.
    let scrolls = false;
    for (let p = el; p && p !== article; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if ((o === "auto" || o === "scroll") && p.getBoundingClientRect().right <= column.right + 1) {
        scrolls = true;
        break;
      }
    }
    // A table must fit: one that only scrolls hides columns at first sight.
    const over = box.right > column.right + 1;
    const tooWide = el.tagName === "TABLE" ? over || el.scrollWidth > column.width + 1
                                           : over && !scrolls;
    if (tooWide) {
      const text = (el.innerText || el.getAttribute("src") || "").slice(0, 60).replace(/\s+/g, " ");
      const width = Math.max(el.scrollWidth, Math.round(box.width));
      wide.push(`${el.tagName.toLowerCase()} ${width} px > column ` +
                `${Math.round(column.width)} px: ${text}`);
    }
  }
  const images = [...document.images].filter(img => img.getBoundingClientRect().width > 0 ||
                                                  article.contains(img))
    .filter(img => !img.complete || img.naturalWidth === 0).map(img => img.getAttribute("src"));
  const text = article.innerText;
  const latex = [];
  for (const token of ["\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "\\frac", "\\alpha"]) {
    if (text.includes(token)) latex.push(token);
  }
  const unrendered = [...article.querySelectorAll(".math")]
    .filter(el => !el.querySelector("math")).length;
  const links = [...document.querySelectorAll("a[href]")].map(a => a.getAttribute("href"));
  const ids = [...document.querySelectorAll("[id]")].map(el => el.id);
  const navLinks = [...document.querySelectorAll(".bd-header .navbar-nav > li.nav-item")]
    .filter(li => li.getBoundingClientRect().width > 0).map(li => li.innerText.trim());
  const header = document.querySelector(".bd-header");
  // A sidebar on screen must hold something to follow.
  const emptySidebars = [".bd-sidebar-primary", ".bd-sidebar-secondary"].filter(selector => {
    const bar = document.querySelector(selector);
    return bar && bar.getBoundingClientRect().width > 0 && getComputedStyle(bar).display !== "none"
      && bar.querySelectorAll("a").length === 0;
  });
  return {wide, images, latex, unrendered, links, ids, navLinks, emptySidebars,
          headerHeight: header ? header.getBoundingClientRect().height : 0};
}
"""


def pages(html: Path) -> list[Path]:
    """The main pages: every built page but the generated indexes."""
    return sorted(
        p for p in html.rglob("*.html") if p.name not in SKIP and "_" not in p.parts[-2][:1]
    )


def chromium() -> str:
    for candidate in (os.environ.get("UNIELU_CHROMIUM"), "chromium", "chromium-browser"):
        path = candidate and shutil.which(candidate)
        if path:
            return path
    raise SystemExit(
        "no Chromium found: apt-get install -y chromium, or set UNIELU_CHROMIUM to its binary"
    )


def broken_links(page: Path, links: list[str], ids_of: dict[Path, set[str]]) -> list[str]:
    broken = []
    for href in links:
        url, fragment = urldefrag(href)
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https", "mailto", "data", "javascript"):
            continue
        if parsed.scheme not in ("", "file"):
            continue
        target = page if not parsed.path else (page.parent / unquote(parsed.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(href)
        elif fragment and target.suffix == ".html" and fragment not in ids_of.get(target, set()):
            if target not in ids_of:  # a page that is not among the checked ones
                ids_of[target] = _ids(target)
            if fragment not in ids_of[target]:
                broken.append(href)
    return broken


def _ids(path: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', path.read_text(errors="replace")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=HTML, help="the built site")
    parser.add_argument("--screenshots", type=Path, default=SHOTS, help="where PNGs go")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").exists():
        raise SystemExit(f"{args.html}/index.html not found: build the docs first")
    from playwright.sync_api import sync_playwright

    args.screenshots.mkdir(parents=True, exist_ok=True)
    found: list[str] = []
    checked = pages(args.html)
    ids_of: dict[Path, set[str]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": CHECK_WIDTH, "height": 900})
        for page in checked:
            name = page.relative_to(args.html).as_posix()
            tab.set_viewport_size({"width": CHECK_WIDTH, "height": 900})
            tab.goto(page.as_uri(), wait_until="load")
            facts = tab.evaluate(MEASURE)
            ids_of[page.resolve()] = set(facts["ids"])
            problems = [f"wider than the column at {CHECK_WIDTH} px: {w}" for w in facts["wide"]]
            problems += [f"image does not load: {src}" for src in facts["images"]]
            problems += [f"empty sidebar: {bar}" for bar in facts["emptySidebars"]]
            problems += [f"raw LaTeX in the text: {token}" for token in facts["latex"]]
            if facts["unrendered"]:
                problems.append(f"{facts['unrendered']} math element(s) without MathML")
            problems += [
                f"broken link: {href}"
                for href in broken_links(page.resolve(), facts["links"], ids_of)
            ]
            for width in WIDTHS:
                tab.set_viewport_size({"width": width, "height": 900})
                shot = args.screenshots / f"{name.replace('/', '-')[:-5]}-{width}.png"
                tab.screenshot(path=str(shot), full_page=True)
            print(f"{'ok  ' if not problems else 'FAIL'} {name}")
            for problem in problems:
                print(f"     {problem}")
            found += [f"{name}: {problem}" for problem in problems]
        # The top bar at each width: one line, every section visible (no "More").
        tab.goto((args.html / "index.html").as_uri(), wait_until="load")
        for width in (1400, 1024):
            tab.set_viewport_size({"width": width, "height": 900})
            facts = tab.evaluate(MEASURE)
            height = round(facts["headerHeight"])
            print(f"top bar at {width} px, {height} px high: {' | '.join(facts['navLinks'])}")
            if any(item.startswith("More") for item in facts["navLinks"]):
                found.append(f"index.html: sections hidden under 'More' at {width} px")
            if height > HEADER_MAX:
                found.append(f"index.html: the top bar wraps at {width} px ({height} px high)")
        browser.close()
    print(f"\n{len(checked)} pages, screenshots in {args.screenshots}")
    if found:
        print(f"{len(found)} problem(s)")
        return 1
    print("no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
