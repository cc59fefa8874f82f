"""Model output rendered as Markdown stays inert HTML: no scripts, handlers, images or javascript: links."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from webapp.markdown import render_markdown, sanitize

PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "![x](https://evil.example/x.png)",
    '<svg onload="alert(1)"></svg>',
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "`<script>` and ```\n<script>alert(1)</script>\n```",
]


class Elements(HTMLParser):
    """Every element and attribute of an HTML fragment, as a browser would parse it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_render_markdown_leaves_no_active_content(payload):
    found = Elements(str(render_markdown(payload, n_citations=2)))
    assert not {"script", "img", "svg", "iframe", "style", "object", "embed"} & set(found.tags)
    for name, value in found.attrs:
        assert not name.startswith("on") and name != "style", (payload, name)
        if name == "href":
            assert value.startswith(("https:", "http:", "mailto:", "#")), (payload, value)


def test_render_markdown_keeps_formatting_tables_and_safe_links():
    html = str(
        render_markdown("**Rest** and *fluids*.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[WHO](https://who.int)")
    )
    assert "<strong>Rest</strong>" in html and "<em>fluids</em>" in html
    assert "<table>" in html and "<td>2</td>" in html
    assert 'href="https://who.int"' in html and "noopener" in html


def test_citation_markers_link_to_existing_sources_only_outside_code():
    html = str(render_markdown("Fever [1], cough [2], none [3]. `[1]`", n_citations=2))
    assert '<a href="#cite-1"' in html and '<a href="#cite-2"' in html
    assert "[3]" in html and "#cite-3" not in html
    assert "<code>[1]</code>" in html


def test_escaped_html_text_is_shown_not_lost():
    assert "&lt;script&gt;" in str(render_markdown("use <script> tags"))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sanitizer_alone_strips_raw_html_payloads(payload):
    """The second layer: even HTML that bypassed Markdown escaping is cleaned."""
    found = Elements(sanitize(payload))
    assert not {"script", "img", "svg", "iframe", "style"} & set(found.tags)
    assert all(not name.startswith("on") and "javascript" not in value for name, value in found.attrs)
