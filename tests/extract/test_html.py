"""HTML replies: the client's quote markup first, then the text rules."""

from __future__ import annotations

from mailbridge.extract import html_to_reply_text
from mailbridge.extract.html import MAX_TAGS, render_html


def kept(html: str) -> str:
    return html_to_reply_text(html)[0]


def test_gmail_quote_is_cut() -> None:
    html = (
        '<div dir="ltr">Yes, see you there.</div><br><div class="gmail_quote">'
        '<div class="gmail_attr">On Wed, Mar 4, 2026 at 9:15 AM Ann &lt;ann@example.org&gt; wrote:'
        '<br></div><blockquote class="gmail_quote">Are you coming?</blockquote></div>'
    )
    text, elided = html_to_reply_text(html)
    assert text == "Yes, see you there."
    assert "Are you coming?" in elided


def test_attribution_in_any_language_is_known_from_the_markup() -> None:
    # The attribution wording is unknown to the text rules; the container says it all.
    html = (
        '<div>Ndiyo, asante.</div><div class="gmail_quote"><div>Tarehe 4 Machi, Ann '
        "aliandika:</div><blockquote>Swali?</blockquote></div>"
    )
    assert kept(html) == "Ndiyo, asante."


def test_outlook_web_cuts_everything_after_the_reply_header() -> None:
    html = (
        '<div>Thanks!</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg">'
        "<b>From:</b> Ann</div><div>old message</div>"
    )
    text, elided = html_to_reply_text(html)
    assert text == "Thanks!"
    assert "old message" in elided


def test_outlook_desktop_header_box() -> None:
    html = (
        '<p class="MsoNormal">Fine by me.</p><div style="border:none;border-top:solid #E1E1E1 '
        '1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>Från:</b> Ann<br>'
        "<b>Skickat:</b> den 4 mars 2026</p></div><p>old</p>"
    )
    assert kept(html) == "Fine by me."


def test_yahoo_quoted() -> None:
    html = (
        '<div>Lovely.</div><div id="yahoo_quoted_123" class="yahoo_quoted"><div>On Wednesday, '
        "Ann wrote:</div><div>old</div></div>"
    )
    assert kept(html) == "Lovely."


def test_apple_cite_blockquote_and_signature() -> None:
    html = (
        '<div>Agreed.</div><div id="AppleMailSignature">Sent from my iPhone</div>'
        '<blockquote type="cite">On 4 Mar 2026, at 09:15, Ann wrote:<br>old</blockquote>'
    )
    assert kept(html) == "Agreed."


def test_interleaved_blockquotes_are_kept_as_quotes() -> None:
    html = (
        "<blockquote>Which flour?</blockquote><div>Type 550.</div>"
        "<blockquote>How long?</blockquote><div>Two hours.</div>"
    )
    assert kept(html) == "> Which flour?\n\nType 550.\n\n> How long?\n\nTwo hours."


def test_paragraphs_lists_links_and_pre() -> None:
    html = (
        "<p>First paragraph.</p><p>Second<br>line.</p><ul><li>one</li><li>two</li></ul>"
        "<ol><li>first</li><li>second</li></ol>"
        '<p>See <a href="https://example.org/recipe">the recipe</a> or '
        '<a href="https://example.org">https://example.org</a>.</p><pre>  two  spaces\n kept</pre>'
    )
    assert kept(html) == (
        "First paragraph.\n\nSecond\nline.\n\n- one\n- two\n1. first\n2. second\n\n"
        "See [the recipe](https://example.org/recipe) or https://example.org.\n\n"
        "  two  spaces\n kept"
    )


def test_styles_scripts_and_comments_are_not_text() -> None:
    html = "<style>p{color:red}</style><script>x()</script><!-- note --><p>Visible</p>"
    assert kept(html) == "Visible"


def test_table_rows_and_cells() -> None:
    html = "<table><tr><td>a </td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>"
    assert kept(html) == "a\tb\nc\td"


def test_hostile_nesting_is_cut_short() -> None:
    rendered = render_html("<div>" * (MAX_TAGS + 10) + "deep")
    assert rendered.truncated
