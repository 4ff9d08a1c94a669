"""Matchers for how people and their phones end a message.

Three different things, treated differently by the trimmer:

* mobile sign-offs ("Sent from my iPhone") are added by the client, not the
  writer: cut, with everything after them;
* closing salutations ("Thanks, Ann", "Mit freundlichen Grüßen") are the
  writer's own words: kept (they only help recognise a quote that nobody
  answered);
* signature blocks (name, title, phone, address) without a "-- " separator:
  cut when they carry contact details, or when they start with the sender's
  own name followed by more lines.

Every function takes a line already passed through :func:`matchers.clean`.
"""

# Matching mail in many languages needs Cyrillic, CJK and typographic characters:
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import re
from email.utils import parseaddr

__all__ = [
    "closing_rest",
    "contact_kind",
    "is_closing",
    "is_dash_name",
    "is_mobile_signature",
    "looks_like_signoff",
    "sender_name_tokens",
    "starts_with_sender_name",
]

# --- Mobile sign-offs --------------------------------------------------------
# The client's own line, in the languages commenters use, e.g.
#   Sent from my iPhone / Sent from Yahoo Mail on Android / Get Outlook for iOS
#   Envoyé de mon iPhone / Von meinem iPhone gesendet / Enviado desde mi iPhone
#   Inviato da iPhone / Enviado do meu iPhone / Verzonden met mijn iPhone
#   Skickat från min iPhone / Sendt fra min iPad / Wysłane z iPhone'a
#   Отправлено с iPhone / iPhoneから送信 / 发自我的iPhone / 從我的 iPhone 傳送
_MOBILE_PREFIX = re.compile(
    r"(?:(?P<my>from\s+my|sent\s+from\s+my|envoyé\s+(?:de|depuis)\s+mon|von\s+meinem"
    r"|gesendet\s+von\s+meinem|diese\s+(?:nachricht|e-?mail)\s+wurde\s+(?:von|mit)\s+meinem|enviado\s+desde\s+mi"
    r"|enviado\s+de\s+mi|enviado\s+do\s+meu|enviado\s+de\s+meu|inviato\s+dal\s+mio"
    r"|verzonden\s+(?:vanaf|met|van)\s+mijn|verstuurd\s+(?:vanaf|met|van)\s+mijn"
    r"|skickat\s+från\s+min|sendt\s+fra\s+min|wysłane\s+z\s+mojego|wysłano\s+z\s+mojego"
    r"|отправлено\s+с\s+моего|надіслано\s+з\s+мого|trimis\s+de\s+pe|odesláno\s+z\s+mého)"
    r"|sent\s+(?:\w+ly\s+)?(?:from|with|via|using|by|on)|envoyé\s+(?:\w+\s+)?(?:depuis|de|à\s+partir\s+de"
    r"|avec|par|via)|gesendet\s+(?:von|mit|über|vom|aus)|enviado\s+(?:desde|con|de|do|da|pelo"
    r"|pela|a\s+partir\s+do|através\s+do)|inviato\s+(?:da|dal|dalla|con|tramite)"
    r"|verzonden\s+(?:vanaf|vanuit|met|via|van)|verstuurd\s+(?:vanaf|vanuit|met|via)"
    r"|skickat\s+från|skickades\s+från|sendt\s+(?:fra|med)|wysłan[eo]\s+(?:z|ze|przez)"
    r"|отправлено\s+(?:с|из|со)|надіслано\s+(?:з|із)|odesláno\s+z|trimis\s+(?:din|cu)"
    r"|lähetetty|أُرسلت\s+من|أرسلت\s+من|مرسل\s+من)"
    r"(?:\s|$)",
    re.IGNORECASE,
)
# Chinese clients write no space: "发自我的iPhone", "從我的 iPhone 傳送".
_MOBILE_CJK = re.compile(
    r"(?:从|從|发自|發自|来自|來自)我的\s?[^\s]{2,24}(?:\s?(?:传送|傳送|发送|發送))?"
)
# Sign-offs whose device comes first: "iPhoneから送信", "Az iPhone-omról küldve",
# "iPhone'umdan gönderildi", "iPhone에서 보냄", "Outlook für iOS beziehen".
_MOBILE_SUFFIX = re.compile(
    r"(?:から送信|からの送信|küldve|gönderildi|에서\s*보냄|beziehen|傳送|发送)$", re.IGNORECASE
)
# "Get Outlook for Android", "Obtener Outlook para iOS", "Scarica Outlook per Android".
_GET_OUTLOOK = re.compile(
    r"(?:get|download|obtener|télécharger|scarica|baixe|baixar|hol\s+dir|descargar)\s+outlook\s+"
    r"(?:for|für|pour|para|per|voor)\s+\S{2,12}",
    re.IGNORECASE,
)
_VIA_DEVICE = re.compile(r"via\s+(?:mobile|iphone|ipad|android|blackberry|phone|smartphone)")
_DEVICE = re.compile(
    r"iphone|ipad|ipod|android|blackberry|mobil|móvil|movil|celular|\bcell\b|phone|telefon"
    r"|телефон|galaxy|samsung|\bhtc\b|huawei|xiaomi|nokia|pixel|oneplus|motorola|xperia|windows"
    r"|outlook|mail|yahoo|\baol\b|airmail|sparrow|typeapp|acompli|mailbox|\bspark\b|bluemail"
    r"|newton|k-9|\bgmx\b|web\.de|tablet|handy|device|\bapp\b|wiko|alcatel|почт|\bios\b|poczt"
    r"|aplikac|smartphone",
    re.IGNORECASE,
)
# Links clients append to their sign-off: <https://aka.ms/...>, [Outlook](https://...).
_MD_LINK = re.compile(r"\[([^\]\[]{0,80})\]\([^()\s]{0,400}\)")
_ANGLE_LINK = re.compile(r"<[^<>\s]{0,400}>")
_BARE_URL = re.compile(r"(?:https?://|www\.)\S{0,400}")
_EDGE_PUNCT = re.compile(r"^[\W_]{1,6}|[\W_]{1,6}$")
_TAIL_SPLIT = re.compile(r"[,;!?]|\.(?:\s|$)")
_EXCUSE = re.compile(
    r"\W{0,3}(?:please\s+)?(?:excuse|pardon|forgive|sorry|désolé|entschuldig|perdon|scusa)",
    re.IGNORECASE,
)


def _strip_links(s: str) -> str:
    # Each pattern only where its first characters are: most lines have no link.
    if "](" in s:
        s = _MD_LINK.sub(r"\1", s)
    if "<" in s:
        s = _ANGLE_LINK.sub(" ", s)
    if "://" in s or "www." in s:
        s = _BARE_URL.sub(" ", s)
    return s


def _strip_edge_punct(s: str) -> str:
    """``_EDGE_PUNCT.sub("", s)``: up to six non-word characters off each end.

    Without the pattern's scan, which tries its second branch at every character of
    every line of a reply (a third of this check's time)."""
    if "\n" in s:  # "$" also matches before a final newline: leave that to re
        return _EDGE_PUNCT.sub("", s)
    n = len(s)
    start = 0  # [\W_] is exactly "not str.isalnum()" for re's Unicode \w
    while start < min(n, 6) and not s[start].isalnum():
        start += 1
    end = n
    while end > max(start, n - 6) and not s[end - 1].isalnum():
        end -= 1
    return s[start:end]


def is_mobile_signature(s: str) -> bool:
    """True for a line a mail client appends on its own ("Sent from my iPhone")."""
    if len(s) > 160 or not s:
        return False
    s = " ".join(_strip_edge_punct(_strip_links(s)).split())
    if not s or len(s) > 120:
        return False
    if _GET_OUTLOOK.fullmatch(s) or _VIA_DEVICE.fullmatch(s.lower()):
        return True
    if _MOBILE_CJK.fullmatch(s):
        return _DEVICE.search(s) is not None or "手机" in s or "手機" in s
    m = _MOBILE_PREFIX.match(s)
    if m is None:
        return (
            len(s) < 60 and _MOBILE_SUFFIX.search(s) is not None and _DEVICE.search(s) is not None
        )
    rest = s[m.end() :]
    cut = _TAIL_SPLIT.search(rest)
    head, tail = (rest[: cut.start()], rest[cut.end() :]) if cut else (rest, "")
    if len(head.split()) > 8:
        return False
    excuse = _EXCUSE.match(tail)
    if excuse is not None and len(tail[excuse.end() :].split()) > 2:
        return False  # "Sent from my phone, sorry for typos: I agree with you completely."
    if tail.strip() and excuse is None:
        # "..., an AT&T 5G smartphone": a short device description may follow
        if len(tail.split()) > 6 or _DEVICE.search(tail) is None:
            return False
    # "Sent from my <anything short>" is a phone; "Sent from <X>" needs X to be an app.
    return bool(m.group("my")) or _DEVICE.search(head) is not None or not head.strip()


# --- Closing salutations -------------------------------------------------------
#   Thanks, Ann / Best regards, / Cheers! / Mit freundlichen Grüßen / LG, Eva
#   Cordialement / Saludos / Un saludo / Grazie / Atenciosamente / Met vriendelijke groet
#   Med vänlig hälsning / Pozdrawiam / С уважением / よろしくお願いします / 谢谢
_CLOSING = re.compile(
    r"(?:(?:best|kind|warm|warmest|many|with\s+kind|all\s+the)\s+(?:regards|wishes|thanks|best)"
    r"|regards|cheers|thanks|thank\s+you|thx|tia|sincerely|yours(?:\s+truly|\s+sincerely)?|best"
    r"|br|cordialement|bien\s+cordialement|bien\s+à\s+vous|merci|salutations|amitiés|bises"
    r"|saludos|un\s+saludo|atentamente|gracias|grazie|cordiali\s+saluti|saluti|distinti\s+saluti"
    r"|obrigad[oa]|abraços|atenciosamente|groeten|met\s+vriendelijke\s+groet(?:en)?|mvg"
    r"|groetjes|hälsningar|med\s+vänlig\s+hälsning|mvh|vennlig\s+hilsen|med\s+venlig\s+hilsen"
    r"|hilsen|pozdrawiam|pozdrowienia|z\s+poważaniem|с\s+уважением|спасибо|дякую"
    r"|(?:viele|liebe|beste|schöne|freundliche)\s+grüße|grüße|gruß|lg|mfg|vg"
    r"|mit\s+freundlichen\s+grüßen|danke|よろしくお願いします|よろしくお願いいたします|谢谢|謝謝"
    r"|此致)(?=[\s,.!:;]|$)",
    re.IGNORECASE,
)


def is_closing(s: str) -> bool:
    """True for a closing salutation line, alone or followed by a name."""
    return len(s) <= 48 and _CLOSING.match(s) is not None


def closing_rest(s: str) -> str | None:
    """What follows a closing salutation at the start of ``s`` ("Thanks, Ann" -> ", Ann"),
    or None when ``s`` does not start with one."""
    m = _CLOSING.match(s) if len(s) <= 48 else None
    return None if m is None else s[m.end() :]


def looks_like_signoff(lines: list[str]) -> bool:
    """True if these non-empty lines are only a closing and a name ("Regards,\\nAnn")."""
    if not 1 <= len(lines) <= 3 or any(len(x) > 48 for x in lines):
        return False
    if is_closing(lines[0]):
        return all(len(x.split()) <= 4 for x in lines[1:])
    # A lone name under a quote ("Ann", "-Ann Smith") answers nothing either.
    return len(lines) == 1 and _looks_like_name(lines[0])


_ANSWER_WORDS = frozenset({"yes", "no", "ok", "okay", "sure", "agreed", "done", "same", "true"})


def _looks_like_name(s: str) -> bool:
    words = s.lstrip("-— ").rstrip(".").split()
    return (
        1 <= len(words) <= 3
        and all(w[:1].isupper() and w.replace("-", "").replace("'", "").isalpha() for w in words)
        and words[0].lower() not in _ANSWER_WORDS
    )


# "-Ann", "- Ann Smith", "-Lev.": a hyphen fused with the name is the plain-text
# signature separator of many writers.  (An em dash, "—Ann", is typography and is
# kept as the writer's sign-off, like "Thanks, Ann".)
_DASH_NAME = re.compile(r"-\s?[^\W\d_][\w'’.]{0,30}(?:\s[^\W\d_][\w'’.]{0,30}){0,2}")


def is_dash_name(s: str) -> bool:
    return len(s) <= 64 and _DASH_NAME.fullmatch(s) is not None


# --- Contact lines (signature blocks without a separator) ----------------------
#   Tel: +44 20 7946 0000 / Mobile: 0170 1234567 / Skype: ann.smith
#   ann@example.org / www.example.org / Ann Smith | Product Manager
_PHONE = re.compile(r"(?:\+|\(?\d)[\d \t().+-]{6,24}\d")
_LABEL = re.compile(
    r"[*_]{0,2}(?:tel|tél|phone|fax|mobile|mob|cell|skype|twitter|e-?mail|web|linkedin"
    r"|handy|telefon|telefono|teléfono|telefone|mobil|kvk|btw|iban)\b\.?[*_]{0,2}\s{0,3}[:.]"
    r"|[*_]{0,2}[tfmpew][*_]{0,2}\s{0,2}:",
    re.IGNORECASE,
)
_EMAIL_OR_URL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}\.\w|https?://|www\.")


def contact_kind(s: str) -> int:
    """2 for a phone number or a labelled contact field, 1 for an address, URL or
    "a | b" separator, 0 otherwise."""
    if len(s) > 100:
        return 0
    if _LABEL.match(s):
        return 2
    m = _PHONE.search(s)
    if m is not None and sum(ch.isdigit() for ch in m.group()) >= 7:
        return 2
    if _EMAIL_OR_URL.search(s) or " | " in s:
        return 1
    return 0


# --- The sender's own name ----------------------------------------------------
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "mag", "ing", "dipl", "sir"})
_WORD = re.compile(r"[^\W\d_][^\W_]*(?:['’-][^\W_]+)*")


def sender_name_tokens(sender: str | None) -> tuple[str, ...]:
    """Lower-case name words of a From value: "Smith, Jim" <j@x> -> ("jim", "smith")."""
    if not sender:
        return ()
    name, _addr = parseaddr(sender)
    if not name and "@" not in sender:
        name = sender
    if "," in name:
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    words = [w.lower() for w in _WORD.findall(name)]
    return tuple(w for w in words if w not in _TITLES)


def starts_with_sender_name(s: str, name: tuple[str, ...]) -> bool:
    """True if the line begins with the sender's name ("Mr Jim P. Smith | Manager")."""
    if not name or len(s) > 100:
        return False
    words = [w.lower() for w in _WORD.findall(s[:100])]
    while words and words[0] in _TITLES:
        words.pop(0)
    if len(name) == 1:
        return words[:1] == [name[0]]
    first, last = name[0], name[-1]
    if words[:1] != [first]:
        return False
    rest = words[1:4]
    return bool(rest) and (rest[0] == last or (len(rest[0]) == 1 and rest[1:2] == [last]))
