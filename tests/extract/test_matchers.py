"""One test per matcher, with the real-world shapes each must (and must not) accept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbridge.extract import matchers as m
from mailbridge.extract import quote_headers as qh
from mailbridge.extract import signoffs as so
from mailbridge.extract import trim_text

QUOTE_HEADERS = [
    # en: Gmail, Apple, Thunderbird, Zoho, Android, mutt
    "On Tue, Mar 3, 2026 at 5:02 PM Ann Smith <ann@example.org> wrote:",
    "On 3 Mar 2026, at 17:02, Ann Smith <ann@example.org> wrote:",
    "On 03/03/2026 17:02, Ann Smith wrote:",
    "---- On Tue, 03 Mar 2026 17:02:00 +0100 Ann <ann@example.org> wrote ----",
    "---- Ann Smith wrote ----",
    "On Tue, Mar 03, 2026 at 05:02:11PM +0100, Ann Smith wrote:",
    # de
    "Am 03.03.2026 um 17:02 schrieb Ann Smith <ann@example.org>:",
    "Ann Smith <ann@example.org> schrieb am Di., 3. März 2026, 17:02:",
    "Am 03.03.2026 um 17:02 schrieb Ann Smith",
    # fr
    "Le mar. 3 mars 2026 à 17:02, Ann Smith <ann@example.org> a écrit :",
    # es
    "El mar, 3 mar 2026 a las 17:02, Ann Smith (<ann@example.org>) escribió:",
    # it
    "Il giorno mar 3 mar 2026 alle ore 17:02 Ann Smith <ann@example.org> ha scritto:",
    # pt
    "Em ter., 3 de mar. de 2026 às 17:02, Ann Smith <ann@example.org> escreveu:",
    # nl
    "Op di 3 mrt 2026 om 17:02 schreef Ann Smith <ann@example.org>:",
    "Op 3 mrt. 2026 om 17:02 heeft Ann Smith <ann@example.org> het volgende geschreven:",
    # sv / no / da
    "Den 3 mars 2026 kl. 17:02 skrev Ann Smith <ann@example.org>:",
    "tir. 3. mar. 2026 kl. 17:02 skrev Ann Smith <ann@example.org>:",
    # pl
    "W dniu 3.03.2026 o 17:02, Ann Smith <ann@example.org> pisze:",
    "wt., 3 mar 2026 o 17:02 Ann Smith <ann@example.org> napisał(a):",
    # ru (Gmail writes no verb)
    "вт, 3 мар. 2026 г. в 17:02, Ann Smith <ann@example.org>:",
    "3 марта 2026 г., в 17:02, Ann Smith <ann@example.org> написал(а):",
    # ja
    "2026年3月3日(火) 17:02 Ann Smith <ann@example.org>:",
    "2026/03/03 17:02、Ann Smith <ann@example.org> のメッセージ:",
    # zh
    "在 2026年3月3日，下午5:02，Ann Smith <ann@example.org> 写道：",
    # old Gmail, date first
    "2026-03-03 17:02 GMT+01:00 Ann Smith <ann@example.org>:",
    # more languages: ca, cs, hu, tr, el, he, ko, vi, fi, ro, uk
    "El dt., 3 de març 2026 a les 17:02, Ann Smith (<ann@example.org>) va escriure:",
    "Dne 3. 3. 2026 v 17:02 Ann Smith <ann@example.org> napsal(a):",
    "Ann Smith <ann@example.org> ezt írta (időpont: 2026. márc. 3., K, 17:02):",
    "Ann Smith <ann@example.org>, 3 Mar 2026 Sal, 17:02 tarihinde şunu yazdı:",
    "Στις Τρί 3 Μαρ 2026 στις 17:02, ο/η Ann Smith <ann@example.org> έγραψε:",
    "\u202bבתאריך יום ג׳, 3 במרץ 2026 ב-17:02 מאת Ann Smith <ann@example.org>:\u202c",
    "2026년 3월 3일 (화) 오후 5:02, Ann Smith <ann@example.org>님이 작성:",
    "Vào Th 3, 3 thg 3, 2026 vào lúc 17:02 Ann Smith <ann@example.org> đã viết:",
    "ti 3.3.2026 klo 17.02 Ann Smith (ann@example.org) kirjoitti:",
    "în mar., 3 mar. 2026 la 17:02, Ann Smith <ann@example.org> a scris:",
    "вт, 3 бер. 2026 р. о 17:02 Ann Smith <ann@example.org> пише:",
]

HEADER_BLOCKS = {
    "de": "Von: Ann\nGesendet: Dienstag, 3. März 2026 17:02\nAn: Bob\nBetreff: Brot",
    "fr": "De : Ann\nEnvoyé : mardi 3 mars 2026 17:02\nÀ : Bob\nObjet : Pain",
    "es": "De: Ann\nEnviado el: martes, 3 de marzo de 2026 17:02\nPara: Bob\nAsunto: Pan",
    "it": "Da: Ann\nInviato: martedì 3 marzo 2026 17:02\nA: Bob\nOggetto: Pane",
    "pt": "De: Ann\nEnviada em: terça-feira, 3 de março de 2026 17:02\nPara: Bob\nAssunto: Pão",
    "nl": "Van: Ann\nVerzonden: dinsdag 3 maart 2026 17:02\nAan: Bob\nOnderwerp: Brood",
    "sv": "Från: Ann\nSkickat: den 3 mars 2026 17:02\nTill: Bob\nÄmne: Bröd",
    "pl": "Od: Ann\nWysłano: wtorek, 3 marca 2026 17:02\nDo: Bob\nTemat: Chleb",
    "ru": "От: Ann\nОтправлено: 3 марта 2026 г. 17:02\nКому: Bob\nТема: Хлеб",
    "ja": "差出人: Ann\n送信日時: 2026年3月3日 17:02\n宛先: Bob\n件名: パン",
    "zh": "发件人: Ann\n发送时间: 2026年3月3日 17:02\n收件人: Bob\n主题: 面包",
    "en": "*From:* Ann [mailto:ann@example.org]\n*Sent:* Tuesday, March 3, 2026 5:02 PM",
}


@pytest.mark.parametrize("lang", sorted(HEADER_BLOCKS))
def test_header_block_cuts_in_every_language(lang: str) -> None:
    kept, elided = trim_text("My answer.\n\n" + HEADER_BLOCKS[lang] + "\n\nOld message.")
    assert kept == "My answer."
    assert elided.endswith("Old message.")


NOT_HEADERS = [
    "On Monday I wrote a long comment about rye.",
    "Something wrote:",
    "On the other hand, it works.",
    "I wrote to them in 2019 and never heard back.",
    "> On Tue, Mar 3, 2026 at 5:02 PM Ann Smith <ann@example.org> wrote:",
    "They gave their consent:",
    # A sentence with a number in it, wrapped where "wrote" ends the line.
    "(5.19). about what you wrote I have been thinking (5.20). what you wrote",
    "I read it twice after 10.30 and I still agree with what you wrote",
]


@pytest.mark.parametrize("line", QUOTE_HEADERS)
def test_quote_header(line: str) -> None:
    assert qh.is_quote_header(m.clean(line))


@pytest.mark.parametrize("line", NOT_HEADERS)
def test_not_quote_header(line: str) -> None:
    assert not qh.is_quote_header(m.clean(line))


def test_a_wrapped_sentence_ending_in_wrote_keeps_the_words_after_it() -> None:
    text = (
        "I read it twice after 10.30 and I still agree with what you wrote\n"
        "about the dough, and I tried it again on Sunday.\n\nBest, Bo"
    )
    assert trim_text(text)[0] == text


def test_quote_header_sharing_the_reply_line() -> None:
    line = "Sounds good. On Tue, Mar 3, 2026 at 5:02 PM, ann@example.org wrote:"
    at = qh.split_inline_quote_header(line)
    assert at is not None and line[:at].strip() == "Sounds good."


@pytest.mark.parametrize(
    "line",
    [
        "-----Original Message-----",
        "----- Original Message -----",
        "-----Ursprüngliche Nachricht-----",
        "-------- Message d'origine --------",
        "-------- Mensaje original --------",
        "*-------- Original Message --------*",
        "-----Исходное сообщение-----",
    ],
)
def test_original_marker(line: str) -> None:
    assert m.is_original_marker(m.clean(line))


@pytest.mark.parametrize(
    "line",
    [
        "---------- Forwarded message ---------",
        "Begin forwarded message:",
        "-------- Weitergeleitete Nachricht --------",
    ],
)
def test_forward_marker(line: str) -> None:
    assert m.is_forward_marker(m.clean(line))


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("From: Ann Smith [mailto:ann@example.org]", "from"),
        ("*From:* Ann Smith", "from"),
        ("Von: Ann Smith", "from"),
        ("De : Ann Smith", "from"),
        ("Envoyé : mardi 3 mars 2026 17:02", "envoyé"),
        ("Från: Ann Smith", "from"),
        ("Od: Ann Smith", "from"),
        ("От: Ann Smith", "from"),
        ("发件人: Ann Smith", "from"),
        ("差出人: Ann Smith", "from"),
        ("Betreff: Re: Brot", "subject"),
    ],
)
def test_header_field(line: str, field: str) -> None:
    assert m.header_field(m.clean(line)) == field


def test_header_field_rejects_prose() -> None:
    assert m.header_field("From my experience it works.") is None


@pytest.mark.parametrize(
    "line", ["-- ", "--", "__", "________________________________", "---", "=====", "* * *", "####"]
)
def test_delimiter(line: str) -> None:
    assert m.is_delimiter(m.clean(line))


@pytest.mark.parametrize("line", ["--> one", "- item", "a -- b", "—"])
def test_not_delimiter(line: str) -> None:
    assert not m.is_delimiter(m.clean(line))


@pytest.mark.parametrize("line", ["> text", ">> nested", " > indented", ">", "Ann> text", "C>"])
def test_quote_line(line: str) -> None:
    assert m.is_quote_line(line)


@pytest.mark.parametrize("line", ["x>5 is true", "--> one", "a > b"])
def test_not_quote_line(line: str) -> None:
    assert not m.is_quote_line(line)


MOBILE = [
    "Sent from my iPhone",
    "Sent from my Samsung Galaxy smartphone.",
    "Sent from my cell, please excuse any typos.",
    "Sent from Yahoo Mail on Android",
    "Get Outlook for iOS<https://aka.ms/o0ukef>",
    "Envoyé de mon iPhone",
    "Von meinem iPhone gesendet",
    "Gesendet von Outlook für Android",
    "Enviado desde mi iPhone",
    "Inviato da iPhone",
    "Enviado do meu iPhone",
    "Verzonden met mijn iPhone",
    "Skickat från min iPhone",
    "Sendt fra min iPad",
    "Wysłane z mojego iPhone'a",
    "Отправлено с iPhone",
    "iPhoneから送信",
    "发自我的iPhone",
    "從我的 iPhone 傳送",
    "<<sent by galaxy>>",
    "Inviato dal mio iPhone",
    "Verstuurd vanaf mijn iPhone",
    "Отправлено из мобильной Почты Mail.ru",
    "Android携帯からの送信",
    "Diese E-Mail wurde von meinem Android Mobiltelefon gesendet",
    "Sent via the Samsung Galaxy S23, an AT&T 5G smartphone",
]


@pytest.mark.parametrize("line", MOBILE)
def test_mobile_signature(line: str) -> None:
    assert so.is_mobile_signature(m.clean(line))


@pytest.mark.parametrize(
    "line",
    [
        "Sent from my desk, is much easier than my mobile phone.",
        "Sent the recipe to my mum.",
        "From my point of view the crust is too thick, and I said so.",
    ],
)
def test_not_mobile_signature(line: str) -> None:
    assert not so.is_mobile_signature(m.clean(line))


@pytest.mark.parametrize(
    "line",
    [
        "Thanks,",
        "Best regards,",
        "Regards, Roman",
        "Mit freundlichen Grüßen",
        "Cordialement",
        "Saludos",
        "Pozdrawiam",
        "С уважением",
        "Met vriendelijke groet",
    ],
)
def test_closing(line: str) -> None:
    assert so.is_closing(line)


def test_signoff_block() -> None:
    assert so.looks_like_signoff(["Regards,", "Ann"])
    assert so.looks_like_signoff(["Ann Smith"])
    assert not so.looks_like_signoff(["Yes, twice."])
    assert not so.looks_like_signoff(["Yes"])


def test_dash_name() -> None:
    assert so.is_dash_name("-Ann")
    assert so.is_dash_name("- Ann Smith")
    assert not so.is_dash_name("- mix the flour and water")
    assert not so.is_dash_name("—Ann")


def test_contact_kind() -> None:
    assert so.contact_kind("Tel: +44 20 7946 0000") == 2
    assert so.contact_kind("+44 20 7946 0000") == 2
    assert so.contact_kind("www.example.org") == 1
    assert so.contact_kind("Ann Smith | Product Manager") == 1
    assert so.contact_kind("10/19/2017 @ 9:30 am") == 0
    assert so.contact_kind("E. coli grows fast.") == 0


def test_sender_names() -> None:
    assert so.sender_name_tokens('"Smith, Jim" <jim@example.org>') == ("jim", "smith")
    name = so.sender_name_tokens("Jim Smith <jim@example.org>")
    assert so.starts_with_sender_name("Jim P. Smith | Manager", name)
    assert so.starts_with_sender_name("Mr Jim Smith", name)
    assert not so.starts_with_sender_name("My name is Jim Smith", name)


def test_gateway_banner() -> None:
    assert m.is_gateway_banner("CAUTION: This email originated from outside of the organization.")
    assert m.is_gateway_banner("[EXTERNAL]")
    assert not m.is_gateway_banner("[EXTERNAL] is what the subject said")
    assert not m.is_gateway_banner("Caution: the oven is hot.")


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=st.sampled_from(list("ab_!. -–—()[]\t\u00a0é١²日\n")), max_size=20),
        st.text(max_size=20),
    )
)
def test_the_edge_punctuation_goes_as_the_pattern_takes_it(s: str) -> None:
    # signoffs._strip_edge_punct stands for _EDGE_PUNCT.sub("", s) without its scan:
    # at most six characters off each end, "_" and Unicode digits as re counts them.
    assert so._strip_edge_punct(s) == so._EDGE_PUNCT.sub("", s)


LINE_PIECES = st.sampled_from(
    ["On", " ", "ann@example.org", "@", "a@b.c", "<", ">", "1", "Mar.", "\u200b", "\u00a0",
     "\u2011", "x", "\t", "Le", "\n"]
)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(LINE_PIECES, max_size=12).map("".join)))
def test_the_quick_paths_answer_as_the_plain_ones(s: str) -> None:
    # clean skips the translation for ASCII lines, and could_start_quote_header the
    # address pattern for lines without "@": neither may change an answer.
    assert m.clean(s) == s[: m.MAX_MATCH_LEN + 1].translate(m._INVISIBLE).strip()
    c = m.clean(s)
    plain = (
        bool(c)
        and len(c) <= 250
        and c[0] != ">"
        and bool(qh._QH_INTRO.match(c) or qh._QH_START.match(c) or "<" in c or qh._EMAIL.search(c))
    )
    assert qh.could_start_quote_header(c) == plain
