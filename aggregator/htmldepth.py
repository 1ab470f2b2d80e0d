"""Bounding the element nesting of untrusted HTML before an HTML tree builder sees it.

Here: ``limit_html_depth`` and the tables of its conservative model of an HTML
parser's stack of open elements (void elements, scope boundaries, implied end
tags, formatting elements reopened). Not here: deciding which tags, attributes
and URLs survive, which is ``sanitize``'s job; the output of this module is
still untrusted markup.
"""

from __future__ import annotations

import re

MAX_HTML_DEPTH = 128

# Elements that never have content.
_VOID = frozenset(
    {
        "area",
        "base",
        "basefont",
        "bgsound",
        "br",
        "col",
        "embed",
        "frame",
        "hr",
        "image",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
# An end tag never closes an element across one of these (HTML "scope" markers).
_SCOPE_BOUNDARIES = frozenset(
    {
        "applet",
        "button",
        "caption",
        "html",
        "marquee",
        "math",
        "object",
        "svg",
        "table",
        "td",
        "template",
        "th",
    }
)
_EXTRA_BOUNDARIES = {"li": frozenset({"ol", "ul"})}
# Block containers: their start tag closes an open paragraph, and they are all "special".
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "details",
        "dir",
        "div",
        "dl",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hgroup",
        "listing",
        "main",
        "menu",
        "nav",
        "ol",
        "plaintext",
        "pre",
        "section",
        "summary",
        "ul",
        "xmp",
        *(f"h{level}" for level in range(1, 7)),
    }
)
# An end tag of a phrasing element is ignored when one of these is open above it.
_SPECIAL = frozenset(
    {
        "body",
        "dd",
        "dt",
        "iframe",
        "li",
        "noembed",
        "noframes",
        "noscript",
        "p",
        "script",
        "select",
        "style",
        "tbody",
        "textarea",
        "tfoot",
        "thead",
        "title",
        "tr",
        *_BLOCKS,
        *_SCOPE_BOUNDARIES,
    }
)
# Start tags that close an open element first (``<li>a<li>b``, ``<tr><td>a<tr>``):
# name -> (what they close, what stops the search; None: only the current node).
_TABLE_SCOPE = frozenset({"html", "table", "template"})
_IMPLIED_CLOSE: dict[str, tuple[frozenset[str], frozenset[str] | None]] = {
    "li": (frozenset({"li"}), _SPECIAL - {"address", "div", "p"}),
    "dt": (frozenset({"dt", "dd"}), _SPECIAL - {"address", "div", "p"}),
    "dd": (frozenset({"dt", "dd"}), _SPECIAL - {"address", "div", "p"}),
    "p": (frozenset({"p"}), _SCOPE_BOUNDARIES),
    "td": (frozenset({"td", "th"}), _TABLE_SCOPE),
    "th": (frozenset({"td", "th"}), _TABLE_SCOPE),
    "tr": (frozenset({"tr"}), _TABLE_SCOPE),
    "tbody": (frozenset({"tbody", "thead", "tfoot"}), _TABLE_SCOPE),
    "thead": (frozenset({"tbody", "thead", "tfoot"}), _TABLE_SCOPE),
    "tfoot": (frozenset({"tbody", "thead", "tfoot"}), _TABLE_SCOPE),
    "option": (frozenset({"option"}), None),
}
# Block start tags that close an open paragraph first (``<p><b>x<div>``).
_P = frozenset({"p"})
_CLOSES_P = frozenset({*_BLOCKS, "dialog", "search", "li", "dd", "dt"})
_FORMATTING = frozenset(
    {"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u"}
)
_MARKERS = frozenset({"applet", "caption", "html", "marquee", "object", "td", "th", "template"})
_TAG_TOKEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)([^<>]*)>")


def _find_open(stack: list[str], closes: frozenset[str], stops: frozenset[str] | None) -> int | None:
    """Index of the nearest open element in ``closes`` not hidden behind one in ``stops``."""
    if not stack:
        return None
    if stops is None:
        return len(stack) - 1 if stack[-1] in closes else None
    for index in range(len(stack) - 1, -1, -1):
        node = stack[index]
        if node in closes:
            return index
        if node in stops:
            return None
    return None


def _open_index(stack: list[str], name: str) -> int | None:
    boundaries = _SCOPE_BOUNDARIES | _EXTRA_BOUNDARIES.get(name, frozenset())
    phrasing = name not in _SPECIAL
    for index in range(len(stack) - 1, -1, -1):
        node = stack[index]
        if node == name:
            return index
        if node in boundaries or (phrasing and node in _SPECIAL):
            return None
    return None


class _OpenElements:
    """A conservative model of an HTML parser's stack of open elements."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.names: list[str] = []
        self.tags: list[str] = []
        self.out: list[str] = []
        self.too_deep = False

    def open(self, name: str, tag: str) -> None:
        if len(self.names) >= self.max_depth:
            self.too_deep = True
            return
        self.names.append(name)
        self.tags.append(tag)
        self.out.append(tag)

    def close_from(self, index: int) -> None:
        """Close the elements from ``index`` up; reopen formatting elements closed on the way.

        A parser keeps ``<b>`` or ``<i>`` that were closed implicitly in its list
        of active formatting elements (up to three identical ones) and opens them
        again at the next text, so they still count, unless a table cell or a
        similar marker was closed too.
        """
        names, tags = self.names[index:], self.tags[index:]
        del self.names[index:], self.tags[index:]
        self.out.extend(f"</{name}>" for name in reversed(names))
        marker = names[0] in _MARKERS
        for name, tag in zip(names[1:], tags[1:], strict=True):
            if name in _MARKERS:
                marker = True
            elif name in _FORMATTING and not marker and self.tags.count(tag) < 3:
                self.open(name, tag)


def limit_html_depth(value: str, *, max_depth: int = MAX_HTML_DEPTH) -> str:
    """Bound the element nesting of an HTML fragment before it reaches a tree builder.

    HTML tree construction costs time in proportion to the depth of the open
    elements, so ten thousand nested ``<div>`` take seconds. This walks the tags
    once with a conservative model of that stack: when it never grows beyond
    ``max_depth`` the fragment is returned unchanged; otherwise start tags past
    the limit are dropped (their text is kept), stray end tags are dropped and
    the rest is closed explicitly, so the result nests at most ``max_depth``
    deep. The result is still untrusted markup for ``clean_html``.
    """
    if value.count("<") <= max_depth:
        return value
    elements = _OpenElements(max_depth)
    stack = elements.names
    out = elements.out
    position = 0
    for match in _TAG_TOKEN.finditer(value):
        out.append(value[position : match.start()])
        position = match.end()
        closing, name, rest = match.group(1), match.group(2).lower(), match.group(3)
        if closing:
            index = _open_index(stack, name)
            if index is not None:
                elements.close_from(index)
        elif name in _VOID or (rest.endswith("/") and ("svg" in stack or "math" in stack)):
            # "<div/>" opens a div in HTML; only void and foreign elements close themselves.
            out.append(match.group(0))
        else:
            rule = _IMPLIED_CLOSE.get(name)
            index = _find_open(stack, *rule) if rule else None
            if index is not None:
                elements.close_from(index)
            if name in _CLOSES_P:
                index = _find_open(stack, _P, _SCOPE_BOUNDARIES)
                if index is not None:
                    elements.close_from(index)
            elements.open(name, match.group(0))
    if not elements.too_deep:
        return value
    out.append(value[position:])
    out.extend(f"</{open_name}>" for open_name in reversed(stack))
    return "".join(out)
