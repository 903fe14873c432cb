"""The one page layout: static/layout.html (head, top bar, shared script) filled with each page's body.

A page's body is static/pages/<name>.html (its <main>); its own script is /static/<name>.js. string.Template
(no template engine is installed): values are inserted as they are, never re-read as template text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

LAYOUT_FILE = "layout.html"
PAGES_FOLDER = "pages"
TOPBAR = '  <header id="topbar"></header>\n'
UPLOT_CSS = "/vendor/uplot/uPlot.min.css"
UPLOT_JS = "/vendor/uplot/uPlot.iife.min.js"


@dataclass(frozen=True)
class Page:
    """What differs between pages besides the body: the title, extra styles and scripts, the top bar."""

    title: str
    styles: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()  # before the page's own script (e.g. a chart library)
    topbar: bool = True
    script: bool = True  # the page's own /static/<name>.js


PAGES: dict[str, Page] = {
    "home": Page("Today · formcheck"),
    "upload": Page("Upload a video · formcheck"),
    "result": Page("Review · formcheck"),
    "progress": Page("Your progress · formcheck", styles=(UPLOT_CSS,), scripts=(UPLOT_JS,)),
    "signin": Page("Sign in · formcheck", topbar=False),
    "signed_out": Page("Open formcheck · formcheck", topbar=False, script=False),
    "clinician": Page("People · formcheck clinician"),
    "clinician_queue": Page("Flagged reps · formcheck clinician"),
    "clinician_person": Page("Person · formcheck clinician"),
    "clinician_rep": Page("Flagged rep · formcheck clinician"),
}


def render_page(web_dir: Path, name: str) -> str:
    """The full HTML of page `name` (a key of PAGES) from the layout and the page's body file."""
    page = PAGES[name]
    layout = Template((web_dir / LAYOUT_FILE).read_text(encoding="utf-8"))
    body = (web_dir / PAGES_FOLDER / f"{name}.html").read_text(encoding="utf-8").rstrip("\n")
    scripts = (*page.scripts, *((f"/static/{name}.js",) if page.script else ()))
    return layout.substitute(
        title=page.title,
        styles="".join(f'  <link rel="stylesheet" href="{href}">\n' for href in page.styles),
        topbar=TOPBAR if page.topbar else "",
        main=body,
        scripts="".join(f'  <script src="{src}"></script>\n' for src in scripts),
    )
