"""Out-of-office subjects in many languages; people writing about absence pass."""

from __future__ import annotations

import pytest

from mailbridge.classify import classify_automated
from mailbridge.classify.subjects import out_of_office_marker

OUR_SUBJECT = "Re: Learning to trust again"

# What responders put first, by language (Outlook's localised prefix first).
MARKERS = [
    "Automatic reply",
    "Out of Office",
    "Out of Office AutoReply",
    "Auto-Reply",
    "AutoReply",
    "Out-of-office",
    "Vacation reply",  # en
    "Automatische Antwort",
    "Abwesenheitsnotiz",
    "Abwesend",  # de
    "Réponse automatique",
    "Absence du bureau",
    "Message d'absence",  # fr
    "Respuesta automática",
    "Fuera de la oficina",
    "Ausente",  # es
    "Risposta automatica",
    "Fuori ufficio",
    "Fuori sede",  # it
    "Resposta automática",
    "Ausente",
    "Fora do escritório",  # pt
    "Automatisch antwoord",
    "Afwezig",
    "Afwezigheidsbericht",  # nl
    "Automatiskt svar",
    "Autosvar",
    "Frånvaro",
    "Automatisk svar",
    "Automaattinen vastaus",
    "Odpowiedź automatyczna",
    "Poza biurem",
    "Automatická odpověď",  # pl, cs
    "Автоматический ответ",
    "Вне офиса",
    "Автоответ",
    "Otomatik yanıt",  # ru, tr
    "自動応答",
    "自動返信",
    "不在",
    "不在のお知らせ",
    "自动回复",
    "自动答复",
    "自動回覆",  # ja, zh
    "자동 회신",
    "부재중",  # ko
]


@pytest.mark.parametrize("marker", MARKERS)
@pytest.mark.parametrize("shape", ["{m}: {s}", "{m} : {s}", "{m}：{s}", "[{m}] {s}", "{m}"])
def test_out_of_office_subjects(marker: str, shape: str) -> None:
    subject = shape.format(m=marker, s=OUR_SUBJECT)
    assert out_of_office_marker(subject) is not None, subject
    verdict = classify_automated({"Subject": subject}, "ann@example.org")
    assert verdict is not None and verdict.reason == "out_of_office_subject"


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office - back on 16 March",
        "Out of Office (until 16 March)",
        "*** Out of Office ***",
        "【不在】Re: もう一度信頼することを学ぶ",
        "Out of Office Re: Learning to trust again",
        "OUT OF OFFICE",
        "Auto: Re: Learning to trust again",  # Sieve vacation's default
        "Ann Lindqvist is out of the office.",  # Lotus Notes
        "Max Mustermann ist außer Haus.",
        "ABWESENHEITSNOTIZ: Re: Wieder vertrauen lernen",
        "Risposta automatica: R: Imparare di nuovo a fidarsi",
    ],
)
def test_other_responder_shapes(subject: str) -> None:
    assert out_of_office_marker(subject) is not None, subject


@pytest.mark.parametrize(
    "subject",
    [
        # Replies start with a reply prefix, whatever they talk about.
        "Re: out of office hours",
        "RE: Out of Office",
        "Re: Automatic reply: Re: Learning to trust again",
        "AW: Abwesenheitsnotiz einrichten",
        "AW: Abwesenheit im Juli",
        "RE : Réponse automatique de mon client",
        "RE: Fuera de la oficina todo agosto",
        "R: Fuori ufficio",
        "RES: Ausente na sexta",
        "SV: Frånvaro i juli",
        "VS: Autosvar",
        "Odp: Poza biurem do piątku",
        "Ответ: Вне офиса",
        "回复: 自动回复设置",
        "答复: 不在办公室",
        "Re: 不在のお知らせ",
        "Fwd: Out of Office",
        # Not a reply, but the marker runs on into other words.
        "Out of office hours",
        "Out of office hours and burnout",
        "Absent-minded after a long week",
        "Absentee ballots",
        "Ausente sin aviso",
        "Fuori ufficio oggi?",
        "Autosvar på engelska?",
        "Auto insurance",
        "Automatic replies are annoying",
        "Auto reply settings in Outlook",
        "不在時の対応について",
        "Re: Bob is out of the office",
        "Learning to trust again",
        "",
    ],
)
def test_people_writing_about_absence_are_not_responders(subject: str) -> None:
    assert out_of_office_marker(subject) is None, subject
    assert classify_automated({"Subject": subject}, "ann@example.org") is None


@pytest.mark.parametrize(
    ("encoded", "marker"),
    [
        ("=?utf-8?Q?R=C3=A9ponse_automatique_=3A_Re=3A_Apprendre?=", "réponse automatique"),
        ("=?iso-8859-1?Q?R=E9ponse_automatique_=3A_Re=3A_Apprendre?=", "réponse automatique"),
        ("=?utf-8?B?6Ieq5YuV5b+c562UOiBSZTog44KC44GG5LiA5bqm?=", "自動応答"),
        ("=?ISO-2022-JP?B?GyRCPCtGMEpWPy4bKEI6IFJlOiB4?=", "自動返信"),
        ("=?utf-8?B?6Ieq5Yqo5Zue5aSNOiBSZTog5a2m5Lya5YaN5qyh5L+h5Lu7?=", "自动回复"),
        ("=?UTF-8?Q?Automatiskt_svar=3A_Re=3A_Att_l=C3=A4ra_sig_lita_igen?=", "automatiskt svar"),
        ("=?utf-8?Q?Odpowied=C5=BA_automatyczna=3A?= Re: x", "odpowiedź automatyczna"),
        ("=?koi8-r?B?4dfUz83B1MnexdPLycogz9TXxdQ6?= Re: x", "автоматический ответ"),
    ],
)
def test_rfc2047_encoded_subjects_are_decoded(encoded: str, marker: str) -> None:
    verdict = classify_automated({"Subject": encoded}, "ann@example.org")
    assert verdict is not None and verdict.reason == "out_of_office_subject"
    assert out_of_office_marker(verdict.signals[0].value) == marker


def test_a_folded_encoded_subject_is_unfolded() -> None:
    folded = "=?utf-8?Q?Automatische_Antwort=3A?=\r\n =?utf-8?Q?_Re=3A_Wieder_vertrauen?="
    verdict = classify_automated({"Subject": folded}, "ann@example.org")
    assert verdict is not None
    assert verdict.evidence == "Subject: Automatische Antwort: Re: Wieder vertrauen"


def test_a_very_long_subject_is_cut_before_matching() -> None:
    assert out_of_office_marker("Out of Office: " + "x" * 100_000) == "out of office"
    assert out_of_office_marker("x" * 100_000 + " is out of the office.") is None
