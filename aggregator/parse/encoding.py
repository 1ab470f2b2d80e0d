"""Turning the bytes of an XML feed into text: which codec, and what to say when it was wrong.

Here: byte order marks, UTF-16/32 without a BOM, the Content-Type charset and
the XML declaration's encoding, the Japanese label families (Shift_JIS read as
CP932, EUC-JP falling back to its JIS X 0213 supersets), the WHATWG reading of
Latin-1 labels, and the fallbacks for damaged bytes. Not here: guessing the
format (``sniff``) or anything that looks past the first bytes of markup.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

UTF8_BOM = codecs.BOM_UTF8
WHITESPACE = b" \t\r\n\x0c"

# Labels that name the Shift_JIS family: real documents use the Microsoft
# extensions (NEC special characters, IBM extensions), so read them as CP932.
_SJIS_LABELS = frozenset(
    {
        "shift_jis",
        "shift-jis",
        "sjis",
        "x-sjis",
        "ms_kanji",
        "ms-kanji",
        "csshiftjis",
        "windows-31j",
        "cp932",
        "ms932",
        "x-ms-cp932",
    }
)
_EUCJP_LABELS = frozenset(
    {"euc-jp", "euc_jp", "eucjp", "x-euc-jp", "x-eucjp", "ujis", "u-jis", "cseucpkdfmtjapanese"}
)
_CODEC_CHAINS: dict[str, tuple[str, ...]] = {
    "shift_jis": ("cp932", "shift_jis_2004"),
    "cp932": ("cp932", "shift_jis_2004"),
    "euc_jp": ("euc_jp", "euc_jis_2004", "euc_jisx0213"),
    # WHATWG: these labels mean windows-1252 on the web.
    "iso8859-1": ("cp1252", "latin-1"),
    "ascii": ("cp1252", "latin-1"),
    "cp1252": ("cp1252", "latin-1"),
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "big5": ("big5", "cp950", "big5hkscs"),
    "euc_kr": ("euc_kr", "cp949"),
    "tis-620": ("tis-620", "cp874"),
}
_XML_DECL_ENCODING = re.compile(rb"<\?xml\s[^>]*?encoding\s*=\s*[\"']\s*([A-Za-z0-9._:-]{1,40})\s*[\"']")
_LABEL = re.compile(r"[A-Za-z0-9._:-]{1,40}")
_REPLACED = " bytes replaced"


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    warnings: tuple[str, ...]


def is_lossy_decoding(warning: str) -> bool:
    """A decoding warning that means bytes were replaced by U+FFFD: the text is altered."""
    return warning.endswith(_REPLACED)


def charset_param(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type value, unquoted."""
    for chunk in (content_type or "").split(";")[1:]:
        key, _, value = chunk.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'").strip() or None
    return None


def detect_unicode_form(body: bytes) -> tuple[str, int] | None:
    """UTF-16/32 from a BOM or from where the NUL bytes sit; (codec, bytes to skip)."""
    if body.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return ("utf-32-le" if body.startswith(codecs.BOM_UTF32_LE) else "utf-32-be"), 4
    if body.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if body.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    head = body[:64]
    if len(head) >= 4 and head[1:4] == b"\x00\x00\x00" and head[0]:
        return "utf-32-le", 0
    if len(head) >= 4 and head[:3] == b"\x00\x00\x00" and head[3]:
        return "utf-32-be", 0
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    # Markup is mostly ASCII, so in UTF-16 one byte of each pair is NUL.
    if even.count(0) == 0 and odd.count(0) >= len(odd) * 3 // 4:
        return "utf-16-le", 0
    if odd.count(0) == 0 and even.count(0) >= len(even) * 3 // 4:
        return "utf-16-be", 0
    return None


def _codec_chain(label: str) -> tuple[str, ...] | None:
    """The codecs to try, in order, for an encoding label; None when the label is unknown."""
    name = label.strip().strip("\"'").strip().lower()
    if not _LABEL.fullmatch(name):
        return None
    if name in _SJIS_LABELS:
        return _CODEC_CHAINS["cp932"]
    if name in _EUCJP_LABELS:
        return _CODEC_CHAINS["euc_jp"]
    for candidate in (name, name.removeprefix("x-")):
        try:
            codec = codecs.lookup(candidate).name
        except LookupError:
            continue
        return _CODEC_CHAINS.get(codec, (codec,))
    return None


def _is_wide_unicode(chain: tuple[str, ...]) -> bool:
    return chain[0].startswith(("utf-16", "utf-32"))


def _mostly_utf8(body: bytes) -> bool:
    """Valid UTF-8 sequences outnumber the invalid bytes: UTF-8 with some damage."""
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for char in text if char > "\x7f") - bad
    return good > 0 and good >= bad


def _decode_or_replace(data: bytes, codec: str, warnings: list[str]) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        warnings.append(f"invalid {codec}{_REPLACED}")
        return data.decode(codec, errors="replace")


def _declared_chains(body: bytes, content_type: str | None, warnings: list[str]) -> list[tuple[str, ...]]:
    """The codec chains the Content-Type charset and the XML declaration name, the more telling first."""
    http_label = charset_param(content_type)
    match = _XML_DECL_ENCODING.match(body[:1024].lstrip(WHITESPACE))
    xml_label = match.group(1).decode("ascii") if match else None
    chains: list[tuple[str, ...]] = []
    for label in (http_label, xml_label):
        if not label:
            continue
        chain = _codec_chain(label)
        if chain is None:
            warnings.append(f"unknown encoding {label[:40]!r} ignored")
        elif not _is_wide_unicode(chain) and chain not in chains:
            chains.append(chain)
    # A server default (ISO-8859-1, US-ASCII) says less than the document's own declaration.
    if len(chains) == 2 and chains[0][0] == "cp1252" and http_label and xml_label:
        chains.reverse()
    return chains


def _decode_damaged(body: bytes, declared: str | None, warnings: list[str]) -> Decoded:
    """No codec reads the body cleanly: replace bad bytes, or read it as a single-byte codec."""
    if declared is not None and declared != "utf-8":
        warnings.append(f"invalid {declared}{_REPLACED}")
        return Decoded(body.decode(declared, errors="replace"), declared, tuple(warnings))
    if _mostly_utf8(body):
        warnings.append(f"invalid utf-8{_REPLACED}")
        return Decoded(body.decode("utf-8", errors="replace"), "utf-8", tuple(warnings))
    for codec in ("cp1252", "latin-1"):
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if declared is not None:
            warnings.append(f"encoding override: declared {declared}, decoded as {codec}")
        return Decoded(text, codec, tuple(warnings))
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def decode_document(body: bytes, content_type: str | None) -> Decoded:
    """Decode an XML document: its Unicode form or BOM, else the declared charsets, else UTF-8."""
    warnings: list[str] = []
    unicode_form = detect_unicode_form(body)
    if unicode_form is not None:
        codec, skip = unicode_form
        text = _decode_or_replace(body[skip:], codec, warnings)
        return Decoded(text, codec, tuple(warnings))
    if body.startswith(UTF8_BOM):
        text = _decode_or_replace(body[len(UTF8_BOM) :], "utf-8", warnings)
        return Decoded(text, "utf-8", tuple(warnings))

    chains = _declared_chains(body, content_type, warnings)
    declared = chains[0][0] if chains else None
    tried: list[str] = []
    for codec in [codec for chain in chains for codec in chain] + ["utf-8"]:
        if codec in tried:
            continue
        tried.append(codec)
        try:
            text = body.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        if declared is not None and chains and codec not in chains[0]:
            warnings.append(f"encoding override: declared {declared}, decoded as {codec}")
        return Decoded(text, codec, tuple(warnings))
    return _decode_damaged(body, declared, warnings)
