"""Out-of-office subjects, in the languages our readers write in.

Headers (Auto-Submitted, X-Autoreply, Precedence...) are the reliable signal and
come first; this is the fallback for responders that set none of them (some
Exchange rules, Lotus Notes, home-made scripts).  So it must never drop a person:

* A marker only counts at the very start of the subject (after a bracket or
  asterisk), where responders put it: "Automatic reply: <our subject>".  A person
  answering our notification writes "Re: ..."/"AW: ..."/"Odp: ...", so their text
  never starts with a marker, and "Re: out of office hours" stays a person.
* The marker must end there: a colon, a dash, a bracket, the end of the subject,
  or a reply prefix ("Out of Office Re: ...").  "Out of office hours next week"
  and "不在時の対応" are people writing about absence, not responders.
* The "<name> is out of the office." form (Lotus Notes) is matched at the end of
  a subject that has no colon at all, so "Re: Bob is out of the office" passes.

Matching is done on the decoded subject, NFKC-normalised (full-width "：" is
":") and case-folded ("ß" is "ss"), limited to ``MAX_SUBJECT`` characters.
"""

# Out-of-office phrases in many languages need non-Latin and accented characters:
# ruff: noqa: RUF001, RUF002, RUF003

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_SUBJECT", "out_of_office_marker"]

#: Responders put the marker first; a long subject is cut before matching.
MAX_SUBJECT = 300


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _alternation(phrases: tuple[str, ...]) -> str:
    # Longest first, so "out of office autoreply" wins over "out of office"; a space
    # in a phrase also accepts a hyphen or nothing ("auto-reply", "autoreply").
    folded = sorted({_fold(p) for p in phrases}, key=lambda p: (-len(p), p))
    return "|".join(re.escape(p).replace(r"\ ", r"[ \-]?") for p in folded)


# One tuple per language, each with what its clients really put first.
# fmt: off
_EN = (
    # Exchange/Outlook 2010+: "Automatic reply: <subject>"; 2003: "Out of Office
    # AutoReply: <subject>"; Gmail/iCloud/Zimbra users mostly type their own subject:
    # "Out of Office", "Out of office - back 3 March", "Auto-Reply", "Vacation reply".
    "automatic reply", "automated reply", "auto reply", "auto response",
    "automatic response", "automated response", "out of office",
    "out of office reply", "out of office autoreply", "out of office auto reply",
    "out of office alert", "out of office notification", "out of office message",
    "out of the office", "away from the office", "away from office",
    "vacation reply", "vacation response", "vacation auto reply",
)
_DE = (
    # Outlook: "Automatische Antwort: <Betreff>"; Notes: "Abwesenheitsnotiz: <Betreff>".
    "automatische antwort", "abwesenheitsnotiz", "abwesenheitsmeldung",
    "abwesenheitsnachricht", "automatische abwesenheitsnachricht", "abwesenheit",
    "abwesend", "nicht im büro", "außer haus",
)
_FR = (
    # Outlook: "Réponse automatique : <objet>" (French puts a space before ":").
    "réponse automatique", "reponse automatique", "absence du bureau",
    "absent du bureau", "absente du bureau", "message d'absence", "absence", "absent",
    "absente",
)
_ES = (
    # Outlook: "Respuesta automática: <asunto>".
    "respuesta automática", "respuesta automatica", "fuera de la oficina",
    "fuera de oficina", "fuera del despacho", "mensaje de ausencia",
    "respuesta de ausencia", "ausente", "ausencia",
)
_IT = (
    # Outlook: "Risposta automatica: <oggetto>".
    "risposta automatica", "fuori ufficio", "fuori sede", "risposta fuori sede",
    "assente", "assenza",
)
_PT = (
    # Outlook: "Resposta automática: <assunto>".
    "resposta automática", "resposta automatica", "fora do escritório",
    "fora do escritorio", "mensagem de ausência", "ausência", "ausente",
)
_NL = (
    # Outlook: "Automatisch antwoord: <onderwerp>".
    "automatisch antwoord", "afwezigheidsbericht", "afwezigheid", "afwezig",
    "niet aanwezig", "buiten kantoor",
)
_NORDIC = (
    # Outlook sv: "Automatiskt svar: <ämne>"; da/nb: "Automatisk svar: <emne>";
    # fi: "Automaattinen vastaus: <aihe>"; self-typed "Autosvar", "Frånvaro".
    "automatiskt svar", "automatisk svar", "autosvar", "frånvaro", "frånvarande",
    "frånvaromeddelande", "fraværende", "fravær", "fraværsmelding",
    "automaattinen vastaus", "poissaoloilmoitus", "poissa",
)
_PL_CS = (
    # Outlook pl: "Odpowiedź automatyczna: <temat>"; cs: "Automatická odpověď: ...".
    "odpowiedź automatyczna", "odpowiedz automatyczna", "automatyczna odpowiedź",
    "autoodpowiedź", "poza biurem", "nieobecność", "nieobecny", "nieobecna",
    "automatická odpověď", "mimo kancelář", "nepřítomnost",
)
_RU_UK_TR = (
    # Outlook ru: "Автоматический ответ: <тема>"; uk: "Автоматична відповідь: ...";
    # tr: "Otomatik yanıt: ...".
    "автоматический ответ", "автоответ", "вне офиса", "нет на месте", "отсутствую",
    "автоматична відповідь", "поза офісом", "otomatik yanıt", "otomatik yanit",
    "otomatik cevap", "ofis dışında",
)
_CJK = (
    # Outlook ja: "自動応答: <件名>"; zh-CN: "自动答复: <主题>"; zh-TW: "自動回覆: ...";
    # self-typed: "【不在】...", "不在のお知らせ", "自動返信", "自动回复", "부재중".
    "自動応答", "自動返信", "自動返答", "不在", "不在通知", "不在のお知らせ", "不在連絡",
    "外出中", "休暇中", "自动回复", "自动答复", "自動回覆", "自動回復", "自動答覆",
    "不在办公室", "不在辦公室", "休假中", "자동 회신", "자동 응답", "부재중", "부재 중",
)

# fmt: on

_MARKERS = _EN + _DE + _FR + _ES + _IT + _PT + _NL + _NORDIC + _PL_CS + _RU_UK_TR + _CJK

# Decoration responders put before the marker: "[Auto-Reply] ...", "*Out of Office*",
# "【不在】...", "«Absence» ...".
_LEAD = r"[\s\[(【「『〔<*«\"'#~]{0,4}"
# What may follow the marker: the end, punctuation or a bracket, a spaced dash
# ("Out of Office - back 3 March", but not "Absent-minded"), or a reply prefix
# ("Out of Office Re: ..."); never another word ("Out of office hours").
_END = (
    r"(?=\s{0,3}(?:$|[:;,.!?|/*\"'»<>()\[\]【】「」『』〔〕–—])"
    r"|\s{1,3}-|\s{1,3}(?:re|aw|sv|vs|wg|rv|odp|fw|fwd|tr)\s?:)"
)
# Sieve vacation (RFC 5230 section 4.4: Dovecot, Cyrus, Fastmail) prefixes "Auto:"
# when the user sets no subject: "Auto: Re: Learning to trust again".  Only with
# its colon: "Auto insurance" or "Auto - ..." are people.
_PREFIX = re.compile(rf"{_LEAD}({_alternation(_MARKERS)}){_END}|{_LEAD}(auto)(?=\s?:)")

# "<name> is out of the office." (Lotus Notes and its translations), only in a
# subject without any colon, so a person's "Re: Bob is out of the office" passes.
# fmt: off
_TRAILING = re.compile(
    "("
    + _alternation(
        (
            "is out of the office", "am out of the office", "is out of office",
            "ist nicht im büro", "ist außer haus", "ist abwesend", "est absent du bureau",
            "est absente du bureau", "está fuera de la oficina", "è fuori ufficio",
            "is afwezig", "está ausente", "är frånvarande", "jest poza biurem",
        )
    )
    + r")\.?\s{0,3}$"
)
# fmt: on


def out_of_office_marker(subject: str) -> str | None:
    """The out-of-office marker that starts (or, Notes style, ends) ``subject``."""
    folded = _fold(subject[:MAX_SUBJECT]).strip()
    found = _PREFIX.match(folded)
    if found is not None:
        return found.group(1) or found.group(2)
    if ":" not in folded:
        found = _TRAILING.search(folded)
        if found is not None:
            return found.group(1)
    return None
