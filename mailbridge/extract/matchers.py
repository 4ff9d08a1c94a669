"""Line matchers for the structure mail clients add around a reply.

One matcher per kind of line: quoted lines, "Original message" markers,
forwarded-message markers, header blocks ("From: / Sent: / To:"), and delimiter
lines; quote headers ("On ... wrote:", a few lines joined with spaces) are
:mod:`mailbridge.extract.quote_headers`.  Every matcher takes one line and answers
yes or no.

Linear time: every pattern is anchored and free of nested quantifiers, and the
callers never pass more than ``MAX_MATCH_LEN`` characters (a longer line is
never one of these structural lines), so a hostile 5 MB line costs one slice.
"""

# Matching mail in many languages needs Cyrillic, CJK and typographic characters:
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "MAX_MATCH_LEN",
    "clean",
    "header_field",
    "is_delimiter",
    "is_forward_marker",
    "is_gateway_banner",
    "is_original_marker",
    "is_quote_line",
    "is_reply_above_marker",
]

#: Structural lines are short; anything longer is the writer's text.
MAX_MATCH_LEN = 400

# Invisible characters that clients sprinkle into headers (bidi marks around
# Arabic/Hebrew attributions, zero-width spaces from Outlook, BOMs, soft hyphens,
# Mailtrack's "ᐧ" tracking glyph); they are ignored when matching.
_INVISIBLE: Mapping[int, str | None] = MappingProxyType(
    str.maketrans(
        {
            **dict.fromkeys(
                "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                "\u2066\u2067\u2068\u2069\ufeff\u00ad\u1427",
                None,
            ),
            "\u00a0": " ",
            "\u2011": "-",  # non-breaking hyphen, as in "iPhone\u2011ul meu"
        }
    )
)


def clean(line: str) -> str:
    """The line as matchers see it: bounded, invisible characters removed, stripped."""
    line = line[: MAX_MATCH_LEN + 1]
    if line.isascii():  # every invisible character is outside ASCII
        return line.strip()
    return line.translate(_INVISIBLE).strip()


# --- Quoted lines ------------------------------------------------------------
# "> text", ">> nested", " > indented", ">text" (no space), and the initials
# style some Usenet-era clients use: "Richard> text", "C> text".
_QUOTE_LINE = re.compile(r"[ \t]{0,8}(?:>|[A-Z][A-Za-z]{0,11}>(?=\s|$))")


def is_quote_line(line: str) -> bool:
    return _QUOTE_LINE.match(line) is not None


# --- "Original message" and forwarded-message markers ------------------------
#   -----Original Message-----          (Outlook, en)
#   -----Ursprüngliche Nachricht-----   (Outlook, de)
#   -------- Message d'origine --------  (Android, fr)
#   ----- Mensaje original -----        (es)
_ORIGINAL = re.compile(
    r"[\s*_=>-]{0,20}(?:original[\s-]message|reply\s+message|original\s+e-?mail"
    r"|ursprüngliche\s+nachricht|antwort\s+nachricht|original-?nachricht"
    r"|oprindelig\s+meddelelse|oprindelig\s+besked|opprinnelig\s+melding|originalmeddelande"
    r"|ursprungligt\s+meddelande|message\s+d'origine|message\s+original|mensaje\s+original"
    r"|messaggio\s+originale|mensagem\s+original|oorspronkelijk\s+bericht|origineel\s+bericht"
    r"|wiadomość\s+oryginalna|oryginalna\s+wiadomość|исходное\s+сообщение"
    r"|оригинальное\s+сообщение|původní\s+zpráva|alkuperäinen\s+viesti|eredeti\s+üzenet"
    r"|原始邮件|原始郵件|元のメッセージ|원본\s+메시지|orijinal\s+mesaj|αρχικό\s+μήνυμα)"
    r"[\s*_=:-]{0,20}",
    re.IGNORECASE,
)
#   ---------- Forwarded message ---------   (Gmail)
#   Begin forwarded message:                 (Apple Mail)
#   -------- Weitergeleitete Nachricht --------  (Thunderbird, de)
_FORWARD = re.compile(
    r"[\s*_=>-]{0,20}(?:forwarded\s+message|begin\s+forwarded\s+message"
    r"|weitergeleitete\s+nachricht|anfang\s+der\s+weitergeleiteten\s+nachricht"
    r"|message\s+transféré|début\s+du\s+message\s+réexpédié|mensaje\s+reenviado"
    r"|inicio\s+del\s+mensaje\s+reenviado|messaggio\s+inoltrato|inizio\s+messaggio\s+inoltrato"
    r"|mensagem\s+encaminhada|início\s+da\s+mensagem\s+reencaminhada|doorgestuurd\s+bericht"
    r"|begin\s+doorgestuurd\s+bericht|vidarebefordrat\s+meddelande|videresendt\s+meddelelse"
    r"|videresendt\s+melding|przekazana\s+wiadomość|wiadomość\s+przekazana"
    r"|пересылаемое\s+сообщение|переслане\s+повідомлення|转发的邮件|転送されたメッセージ"
    r"|전달된\s+메시지)"
    r"[\s*_=:-]{0,20}",
    re.IGNORECASE,
)


def is_original_marker(s: str) -> bool:
    return len(s) < 120 and _ORIGINAL.fullmatch(s) is not None


def is_forward_marker(s: str) -> bool:
    return len(s) < 120 and _FORWARD.fullmatch(s) is not None


# --- "Reply above this line" markers -----------------------------------------
# Notification emails (ours included) often carry a marker line; whatever the
# client quoted below it is the notification.
#   ## Please type your reply above this line. ##
#   ## Bitte gib deine Antwort oberhalb dieser Zeile ein. ##
_REPLY_ABOVE = re.compile(
    r"[#*\s>-]{0,10}(?:please\s+)?(?:type|write|reply|respond|enter)?\s*(?:your\s+)?"
    r"(?:reply|response|answer)?\s*(?:above|over)\s+this\s+line.{0,30}"
    r"|[#*\s>-]{0,10}bitte\s+.{0,40}(?:oberhalb|über)\s+dieser\s+zeile.{0,30}"
    r"|[#*\s>-]{0,10}(?:veuillez\s+)?répondre\s+au-dessus\s+de\s+cette\s+ligne.{0,30}",
    re.IGNORECASE,
)


def is_reply_above_marker(s: str) -> bool:
    return len(s) < 160 and _REPLY_ABOVE.fullmatch(s) is not None


# --- Gateway banners -----------------------------------------------------------
# Corporate mail gateways put a warning above the writer's text:
#   CAUTION: This email originated from outside of the organization. Do not ...
#   [EXTERNAL] / EXTERNAL EMAIL: This message is from an external sender.
_BANNER = re.compile(
    r"[\[(*]{0,2}(?:caution|warning|attention|external(?:\s+e-?mail)?|achtung|vorsicht)\b"
    r".{0,300}?(?:external\s+sender|outside\s+(?:of\s+)?(?:the|your|our)\s+organi[sz]ation"
    r"|originated\s+(?:from\s+)?outside|external\s+e-?mail|externen?\s+absender)"
    r"|\[external\]\s*$",
    re.IGNORECASE,
)


def is_gateway_banner(s: str) -> bool:
    return len(s) <= MAX_MATCH_LEN and _BANNER.match(s) is not None


# --- Header blocks -----------------------------------------------------------
# Outlook and most webmails put the quoted message's headers in the body:
#   From: Ann Smith [mailto:ann@example.org]      *From:* Ann Smith
#   Sent: Tuesday, March 1, 2016 6:02 PM          *Sent:* ...
#   To: Bob; Subject: Re: the post                 Von: / Gesendet: / An: / Betreff:
# One field line alone is ordinary text ("From: my experience..."); two
# different fields close together start a header block.
_FIELD = re.compile(
    r"[*_\s]{0,4}(from|sent|date|to|subject|cc|bcc|reply-to|von|gesendet|datum|an|betreff|kopie"
    r"|de|envoyé|envoyé\s+le|à|a|objet|sujet|copie\s+à|message\s+du|enviado|enviado\s+el"
    r"|enviada\s+em|enviado\s+em|para|asunto|fecha|assunto|data|da|inviato|inviato\s+il|oggetto"
    r"|risposta|van|verzonden|aan|onderwerp|från|skickat|till|ämne|kopia|fra|sendt|til|emne"
    r"|dato|od|wysłano|wysłane|do|temat|dw|nadawca|adresat|от|отправлено|кому|тема|дата|копия"
    r"|发件人|发送时间|收件人|主题|抄送|日期|寄件者|傳送時間|收件者|主旨|副本|差出人|送信日時|宛先"
    r"|件名|lähettäjä|lähetetty|vastaanottaja|aihe|feladó|elküldve|címzett|tárgy|kimden|tarih"
    r"|kime|konu|من|تم\s+الإرسال|إلى|الموضوع|التاريخ|نسخة|מאת|נשלח|אל|נושא|תאריך)"
    r"[*_]{0,2}\s{0,3}[:：]",
    re.IGNORECASE,
)
# Field names that mean the same thing, so that "Date:" + "Datum:" is not two fields.
_FIELD_GROUP: Mapping[str, str] = MappingProxyType(
    {
        "from": "from",
        "von": "from",
        "de": "from",
        "van": "from",
        "da": "from",
        "från": "from",
        "fra": "from",
        "od": "from",
        "от": "from",
        "发件人": "from",
        "寄件者": "from",
        "差出人": "from",
        "lähettäjä": "from",
        "feladó": "from",
        "kimden": "from",
        "nadawca": "from",
        "to": "to",
        "an": "to",
        "à": "to",
        "a": "to",
        "para": "to",
        "aan": "to",
        "till": "to",
        "til": "to",
        "do": "to",
        "кому": "to",
        "收件人": "to",
        "收件者": "to",
        "宛先": "to",
        "vastaanottaja": "to",
        "címzett": "to",
        "kime": "to",
        "adresat": "to",
        "subject": "subject",
        "betreff": "subject",
        "objet": "subject",
        "sujet": "subject",
        "asunto": "subject",
        "assunto": "subject",
        "oggetto": "subject",
        "onderwerp": "subject",
        "ämne": "subject",
        "emne": "subject",
        "temat": "subject",
        "тема": "subject",
        "主题": "subject",
        "主旨": "subject",
        "件名": "subject",
        "aihe": "subject",
        "tárgy": "subject",
        "konu": "subject",
        "من": "from",
        "מאת": "from",
        "إلى": "to",
        "אל": "to",
        "الموضوع": "subject",
        "נושא": "subject",
    }
)


def header_field(s: str) -> str | None:
    """The normalised field name if ``s`` starts like a quoted header field."""
    if len(s) > MAX_MATCH_LEN:
        return None
    m = _FIELD.match(s)
    if m is None:
        return None
    name = " ".join(m.group(1).lower().split())
    return _FIELD_GROUP.get(name, name)


# --- Delimiter lines -----------------------------------------------------------
# "-- " (RFC 3676 signature separator, often with the space stripped), Outlook's
# "________________________________" above the quoted headers, and the rules
# people put above signatures or footers: "---", "===", "***", "####", "~~~~", "+++".
_DELIMITER = re.compile(
    r"(?:-{2,}|_{2,}|={3,}|\*{3,}|#{3,}|~{3,}|\+{3,}|•{3,}|(?:\*[ \t]){2,8}\*|(?:-[ \t]){2,8}-)"
)


# A dotted rule some webmails put above their footer: "**. . . . . . . . . .**".
_DOTTED = re.compile(r"[*_]{0,2}(?:\.[ \t]){4,40}\.[*_]{0,2}")


def is_delimiter(s: str) -> bool:
    return len(s) < 200 and (
        _DELIMITER.fullmatch(s) is not None or _DOTTED.fullmatch(s) is not None
    )
