"""Model output → safe HTML: Markdown rendered by markdown-it-py, then sanitised by nh3 (allow-list).

Two layers, so one mistake is not enough for XSS: markdown-it runs with raw HTML disabled (a
``<script>`` in the text becomes escaped text), and nh3 keeps only the tags and attributes below and
only http(s)/mailto links. Images are not allowed at all: model output never loads remote content.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "a", "sup",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
_CITE = re.compile(r"\[(\d{1,2})\]")
_TAG = re.compile(r"(<[^>]*>)")

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)


def sanitize(html: str) -> str:
    """Keep only the allow-listed tags/attributes; drop scripts and styles with their content."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def _link_citations(html: str, n_citations: int) -> str:
    """Turn ``[n]`` in text (not in tags or code) into a link to citation n, when it exists."""

    def link(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f'<sup><a href="#cite-{n}">[{n}]</a></sup>' if 1 <= n <= n_citations else m.group(0)

    out, in_code = [], 0
    for part in _TAG.split(html):
        if part.startswith("<"):
            name = part.strip("</>").split()[0].lower() if part.strip("</>") else ""
            if name in ("code", "pre"):
                in_code += -1 if part.startswith("</") else 1
            out.append(part)
        else:
            out.append(part if in_code else _CITE.sub(link, part))
    return "".join(out)


def render_markdown(text: str | None, *, n_citations: int = 0) -> Markup:
    """Render model output as sanitised HTML; ``[n]`` becomes a link to citation n when it exists."""
    html = _md.render(text or "")
    if n_citations:
        html = _link_citations(html, n_citations)
    return Markup(sanitize(html))
