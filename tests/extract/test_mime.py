"""MIME part selection, charsets, format=flowed, attachments."""

from __future__ import annotations

from pathlib import Path

from mailbridge.extract import extract
from mailbridge.extract.charsets import decode_bytes, lookup_charset
from mailbridge.extract.flowed import decode_flowed

EMAILS = Path(__file__).resolve().parents[1] / "fixtures" / "emails"


def _msg(headers: str, body: bytes) -> bytes:
    return (
        "From: Ann <ann@example.org>\nSubject: Re: x\nMIME-Version: 1.0\n" + headers + "\n"
    ).encode("ascii") + body


def test_plain_part_is_preferred_over_html() -> None:
    result = extract((EMAILS / "gmail_web_en.eml").read_bytes())
    assert result.part == "text/plain"
    assert result.attachments == ()


def test_html_used_when_plain_part_is_a_stub() -> None:
    result = extract((EMAILS / "outlook_web_nl.eml").read_bytes())
    assert result.part == "text/html"
    assert result.text.startswith("Dank je")


def test_html_only_message() -> None:
    result = extract((EMAILS / "gmail_html_only.eml").read_bytes())
    assert result.part == "text/html"
    assert "Priya Raman" in result.elided  # the Gmail signature block was cut, not lost


def test_attachments_are_listed_not_published() -> None:
    result = extract((EMAILS / "attachments_mixed.eml").read_bytes())
    assert [(a.filename, a.content_type) for a in result.attachments] == [
        ("crumb.png", "image/png"),
        ("notes été.pdf", "application/pdf"),
    ]
    assert result.attachments[0].size == 66  # decoded bytes, not base64 text
    assert result.attachments[1].size == len(b"%PDF-1.4 tiny")
    assert result.text == "Here is a photo of the crumb, and my notes as a PDF."


def test_inline_image_is_an_attachment() -> None:
    result = extract((EMAILS / "inline_image_related.eml").read_bytes())
    assert [a.content_type for a in result.attachments] == ["image/jpeg"]
    assert result.attachments[0].filename == "loaf.jpg"


def test_mislabelled_charset_is_repaired() -> None:
    result = extract((EMAILS / "iphone_zh_mislabelled_big5.eml").read_bytes())
    assert result.charset == "utf-8"
    assert result.charset_fallback


def test_undeclared_8bit_body() -> None:
    result = extract((EMAILS / "undeclared_latin1.eml").read_bytes())
    assert result.text == "Très bien expliqué, merci."
    assert result.charset_fallback


def test_declared_charsets() -> None:
    assert extract((EMAILS / "gmail_ru_cp1251.eml").read_bytes()).charset == "cp1251"
    assert not extract((EMAILS / "gmail_ja_iso2022jp.eml").read_bytes()).charset_fallback


def test_leading_blank_line_before_headers() -> None:
    result = extract((EMAILS / "leading_blank_line.eml").read_bytes())
    assert result.text == "Short and sweet."
    assert result.defects


def test_multipart_without_boundary_lines_is_read_as_text() -> None:
    raw = _msg('Content-Type: multipart/alternative; boundary="b1"\n', b"Just text.\n")
    result = extract(raw)
    assert result.text == "Just text."


def test_message_rfc822_is_an_attachment() -> None:
    raw = _msg(
        'Content-Type: multipart/mixed; boundary="b1"\n',
        b"--b1\nContent-Type: text/plain\n\nSee attached.\n--b1\nContent-Type: message/rfc822\n\n"
        b"From: x@example.org\nSubject: old\n\nold body\n--b1--\n",
    )
    result = extract(raw)
    assert result.text == "See attached."
    assert [a.content_type for a in result.attachments] == ["message/rfc822"]


def test_text_attachment_is_not_the_body() -> None:
    raw = _msg(
        'Content-Type: multipart/mixed; boundary="b1"\n',
        b"--b1\nContent-Type: text/plain\n\nBody.\n--b1\nContent-Type: text/plain\n"
        b'Content-Disposition: attachment; filename="notes.txt"\n\nnot the body\n--b1--\n',
    )
    result = extract(raw)
    assert result.text == "Body."
    assert result.attachments[0].filename == "notes.txt"


def test_apple_split_text_parts_are_joined() -> None:
    raw = _msg(
        'Content-Type: multipart/mixed; boundary="b1"\n',
        b"--b1\nContent-Type: text/plain\n\nBefore the photo.\n--b1\nContent-Type: image/png\n"
        b'Content-Disposition: inline; filename="p.png"\n\nxx\n--b1\nContent-Type: text/plain\n\n'
        b"After the photo.\n--b1--\n",
    )
    assert extract(raw).text == "Before the photo.\nAfter the photo."


def test_lookup_charset_aliases() -> None:
    assert lookup_charset("unicode-1-1-utf-7") == "utf-7"
    assert lookup_charset("ks_c_5601-1987") == "cp949"
    assert lookup_charset('"ISO-8859-1"') == "cp1252"
    assert lookup_charset("x-unknown") is None
    assert lookup_charset("no-such-charset") is None


def test_decode_bytes_is_lossless_at_worst() -> None:
    data = bytes(range(256))
    text, _codec, fallback = decode_bytes(data, "utf-8")
    assert fallback
    assert len(text) >= 200  # nothing replaced with U+FFFD
    assert "\ufffd" not in text


def test_decode_utf7() -> None:
    assert decode_bytes(b"Hi +AOk-t+AOk-", "unicode-1-1-utf-7")[0] == "Hi été"


def test_flowed_unwraps_soft_breaks() -> None:
    assert decode_flowed("one \ntwo\nthree") == "one two\nthree"


def test_flowed_keeps_quote_depth_apart() -> None:
    assert decode_flowed("> quoted \n> more\nnot quoted") == "> quoted more\nnot quoted"


def test_flowed_delsp_and_space_stuffing() -> None:
    assert decode_flowed("wo \nrd", delsp=True) == "word"
    assert decode_flowed(" From here") == "From here"


def test_flowed_signature_separator_is_not_flowed() -> None:
    assert decode_flowed("text\n-- \nAnn") == "text\n-- \nAnn"


def test_mime_nested_too_deep_is_read_as_text() -> None:
    nested = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(3000)
    )
    result = extract(b"From: a@example.org\n" + nested + b"Content-Type: text/plain\n\nhi\n")
    assert result.part == "text/plain"
    assert "MIME nested too deep; body read as text" in result.defects
    assert not any(d.startswith("extraction failed") for d in result.defects)


def test_too_many_parts_are_cut_short() -> None:
    parts = b"--b\nContent-Type: text/plain\n\nx\n" * 600
    result = extract(
        b'From: a@example.org\nContent-Type: multipart/mixed; boundary="b"\n\n' + parts
    )
    assert result.text.startswith("x\nx")
    assert any("parts; the rest ignored" in d for d in result.defects)


def test_a_nul_in_the_charset_label_keeps_the_words() -> None:
    # Found by tests/faults/test_fuzz_smtp.py: codecs.lookup raises ValueError (not
    # LookupError) on a NUL, and the reply was answered 451 for ever.
    assert lookup_charset("utf\x00-8") is None
    raw = (
        b"From: a@example.org\r\nSubject: x\r\n"
        b'Content-Type: text/plain; charset="utf\x00-8"\r\n\r\n'
        b"Still every word, gr\xc3\xbc\xc3\x9fe.\r\n"
    )
    result = extract(raw)
    assert result.text == "Still every word, grüße."
    assert not any(d.startswith("extraction failed") for d in result.defects)


def test_an_attached_message_with_a_broken_charset_keeps_the_words() -> None:
    # Found by tests/faults/test_atheris.py: measuring the attached message flattened
    # it, which raised CharsetError on a label that is not one; the reply failed (451).
    raw = (
        b"From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy own words.\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
        b'Subject: inner\r\nContent-Type: text/plain; charset="windows-1\xff\xfe"\r\n\r\n'
        b"inner text, caf\xe9\r\n--b--\r\n"
    )
    result = extract(raw)
    assert result.text == "My own words."
    assert not any(d.startswith("extraction failed") for d in result.defects), result.defects
    assert [a.content_type for a in result.attachments] == ["message/rfc822"]


def test_a_broken_rfc2231_charset_keeps_the_attachment_and_the_text() -> None:
    """Found by the coverage-guided fuzzer: a NUL in a filename*= charset made the
    standard library raise, and the whole extraction failed (a 451 for ever)."""
    raw = _msg(
        'Content-Type: multipart/mixed; boundary="b"\n',
        b"--b\nContent-Type: text/plain; charset=utf-8\n\nThe words I wrote.\n"
        b"--b\nContent-Type: application/pdf\n"
        b"Content-Disposition: attachment; filename*=UTF-8\x01\x00\x00''notes%20a.pdf\n"
        b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQ=\n--b--\n",
    )
    result = extract(raw)
    assert not [d for d in result.defects if d.startswith("extraction failed")], result.defects
    assert result.text == "The words I wrote."
    assert [a.content_type for a in result.attachments] == ["application/pdf"]


def test_a_bytes_to_bytes_codec_as_the_charset_keeps_the_words() -> None:
    # Found by tests/extract/test_properties.py (charset=": base64"): Python's codecs
    # include base64, hex, zlib, uu and rot13, which decode no text (LookupError).
    for label in ("base64", ": base64", "hex", "zlib", "bz2", "quopri", "uu", "rot13"):
        assert lookup_charset(label) is None, label
        raw = (
            b"From: a@example.org\r\nSubject: x\r\n"
            b'Content-Type: text/plain; charset="' + label.encode() + b'"\r\n\r\n'
            b"\xffStill every word, gr\xc3\xbc\xc3\x9fe.\r\n"
        )
        result = extract(raw)
        assert "Still every word, gr" in result.text, label
        assert not any(d.startswith("extraction failed") for d in result.defects), label
    assert lookup_charset("latin-1") == "cp1252" and lookup_charset("koi8-r") == "koi8-r"
