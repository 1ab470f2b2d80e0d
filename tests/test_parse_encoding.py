"""parse.encoding: Shift_JIS read as CP932, EUC-JP and its JIS X 0213 superset, UTF-16/32, labels that lie."""

from __future__ import annotations

import pytest
from feeddocs import (
    one_item,
    parse,
    rss,
)

JAPANESE = "日本語のタイトル①～㈱髙"  # ①, ～ (U+FF5E), ㈱ and 髙 exist only in CP932


def japanese_rss(encoding_label: str | None, codec: str) -> bytes:
    decl = f'<?xml version="1.0" encoding="{encoding_label}"?>' if encoding_label else ""
    text = (
        f'{decl}<rss version="2.0"><channel><title>{JAPANESE}</title>'
        f"<item><title>{JAPANESE}</title><description>本文です</description></item></channel></rss>"
    )
    return text.encode(codec)


@pytest.mark.parametrize(
    "label", ["Shift_JIS", "shift-jis", "SJIS", "x-sjis", "MS_Kanji", "csShiftJIS", "Windows-31J", "CP932"]
)
def test_shift_jis_labels_decode_as_cp932(label: str) -> None:
    body = japanese_rss(label, "cp932")
    feed = parse(body)
    assert feed.encoding == "cp932"
    assert feed.title == JAPANESE
    assert feed.entries[0].title == JAPANESE
    assert feed.entries[0].summary == "本文です"


@pytest.mark.parametrize("label", ["Shift_JIS", "sjis", "windows-31j"])
def test_shift_jis_from_http_charset_only(label: str) -> None:
    body = japanese_rss(None, "cp932")
    feed = parse(body, {"content-type": f'application/rss+xml; charset="{label}"'})
    assert feed.entries[0].title == JAPANESE


def test_http_charset_overrides_declaration() -> None:
    body = japanese_rss("utf-8", "cp932")
    feed = parse(body, {"content-type": "text/xml; charset=Shift_JIS"})
    assert feed.entries[0].title == JAPANESE


def test_euc_jp() -> None:
    title = "日本語の見出し、ひらがな・カタカナ"
    body = one_item(title, decl='<?xml version="1.0" encoding="EUC-JP"?>').encode("euc_jp")
    feed = parse(body)
    assert feed.encoding == "euc_jp"
    assert feed.entries[0].title == title


def test_euc_jp_with_nec_row13_falls_back_to_jis_x_0213() -> None:
    title = "丸数字①②③"
    body = one_item(title, decl='<?xml version="1.0" encoding="euc-jp"?>').encode("euc_jis_2004")
    with pytest.raises(UnicodeDecodeError):
        body.decode("euc_jp")
    feed = parse(body)
    assert feed.entries[0].title == title


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_or_declaration(codec: str) -> None:
    body = one_item("ひとつ").encode(codec)
    feed = parse(body)
    assert feed.encoding == codec
    assert feed.entries[0].title == "ひとつ"


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_utf16_and_utf32_with_bom(codec: str) -> None:
    body = one_item("ひとつ", decl='<?xml version="1.0" encoding="UTF-16"?>').encode(codec)
    assert parse(body).entries[0].title == "ひとつ"


def test_utf8_bom_and_whitespace_before_declaration() -> None:
    body = b"\xef\xbb\xbf\n\n   " + rss("<item><title>café</title></item>")
    assert parse(body).entries[0].title == "café"
    body = b"\n\n\n    " + rss("<item><title>x</title></item>")
    assert parse(body).entries[0].title == "x"


def test_server_default_charset_does_not_beat_declaration() -> None:
    body = rss("<item><title>Zürich – naïve</title></item>")
    feed = parse(body, {"content-type": "text/xml; charset=ISO-8859-1"})
    assert feed.entries[0].title == "Zürich – naïve"


def test_latin1_without_declaration() -> None:
    body = one_item("São Paulo").encode("latin-1")
    assert parse(body).entries[0].title == "São Paulo"


def test_declared_encoding_wrong_falls_back() -> None:
    body = japanese_rss("iso-8859-7", "utf-8").replace(b"iso-8859-7", b"Shift_JIS")
    feed = parse(body)
    assert feed.entries[0].title == JAPANESE
    assert any("override" in warning for warning in feed.warnings)
