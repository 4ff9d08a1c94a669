"""Amazon SES receiving, through an SNS topic (an SES receipt rule whose action is SNS,
encoding Base64, the topic subscribed to ``https://.../inbound/ses``).

SNS signs each message with an RSA key whose X.509 certificate it names by URL
(``SigningCertURL``); the signature covers the message's fields in a fixed order
(``string_to_sign``), SHA1 for ``SignatureVersion`` 1 and SHA256 for 2. A message is
believed only when: the certificate URL is https on an ``sns.REGION.amazonaws.com``
host, the signature verifies with that certificate, and the ``TopicArn`` is the one
configured. The last matters most: anyone can make an SNS topic of their own, and AWS
signs its messages just the same.

The certificate is fetched through an injected function (tests cannot reach AWS), and
kept per URL (the last ``MAX_CERTIFICATES``). A ``SubscriptionConfirmation`` is
confirmed by visiting its ``SubscribeURL`` (checked the same way) once it is verified
and for our topic.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mailbridge.inbound_webhooks.providers import BadPayload, Delivered, NotAuthentic, recipients

__all__ = ["Fetch", "SnsVerifier", "ses_delivery", "string_to_sign"]

Fetch = Callable[[str], Awaitable[bytes]]

# SNS signs with one certificate a region at a time (a new one now and then): a few.
MAX_CERTIFICATES = 16

_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
_NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SUBSCRIPTION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """What SNS signs: "Name\\nvalue\\n" for each field of the message's type, in order
    (Subject only when present)."""
    kind = message.get("Type")
    names = _NOTIFICATION if kind == "Notification" else _SUBSCRIPTION
    parts = []
    for name in names:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue
            raise BadPayload(f"an SNS {kind} without {name}")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")


def _sns_url(url: object, what: str) -> str:
    parts = urlsplit(str(url))
    if parts.scheme != "https" or not _SNS_HOST.fullmatch(parts.hostname or ""):
        raise NotAuthentic(f"{what} is not an https URL of an SNS host: {str(url)[:120]!r}")
    return str(url)


class SnsVerifier:
    def __init__(
        self, topic_arn: str, fetch: Fetch, setting: str = "inbound_webhooks.ses_topic_arn"
    ) -> None:
        self._topic = topic_arn
        self._setting = setting  # named in a refusal: the operator compares the two
        self._fetch = fetch
        # Bounded: the URL is not signed, so anyone who knows the topic can name a new
        # one each request (a query string on SNS's own certificate): oldest goes first.
        self._keys: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()

    async def verify(self, message: Mapping[str, Any]) -> None:
        """Raise NotAuthentic unless SNS signed ``message`` for our topic."""
        if message.get("TopicArn") != self._topic:
            raise NotAuthentic(
                f"not our topic: {str(message.get('TopicArn'))[:120]!r} ({self._setting})"
            )
        url = _sns_url(message.get("SigningCertURL"), "SigningCertURL")
        version = str(message.get("SignatureVersion", ""))
        algorithm: hashes.HashAlgorithm
        if version == "1":
            algorithm = hashes.SHA1()  # noqa: S303 - SNS's version 1 is SHA1, by its spec
        elif version == "2":
            algorithm = hashes.SHA256()
        else:
            raise NotAuthentic(f"unknown SignatureVersion {version!r}")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except (binascii.Error, ValueError):
            raise NotAuthentic("the Signature is not base64") from None
        key = await self._key(url)
        try:
            key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise NotAuthentic("the SNS signature does not verify") from None

    async def _key(self, url: str) -> rsa.RSAPublicKey:
        found = self._keys.get(url)
        if found is None:
            try:
                certificate = x509.load_pem_x509_certificate(await self._fetch(url))
            except ValueError:
                raise NotAuthentic("the signing certificate is not a PEM certificate") from None
            key = certificate.public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise NotAuthentic("the signing certificate's key is not RSA")
            self._keys[url] = found = key
            while len(self._keys) > MAX_CERTIFICATES:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(url)
        return found

    async def confirm(self, message: Mapping[str, Any]) -> None:
        """Confirm a (verified) subscription of our topic to this endpoint."""
        await self._fetch(_sns_url(message.get("SubscribeURL"), "SubscribeURL"))


def ses_delivery(message: Mapping[str, Any]) -> Delivered:
    """The email in a verified SNS Notification of an SES receipt."""
    try:
        inner = json.loads(str(message.get("Message", "")))
    except ValueError:
        raise BadPayload("the SNS Message is not SES's JSON") from None
    if not isinstance(inner, dict) or inner.get("notificationType") != "Received":
        raise BadPayload("not an SES Received notification")
    content = inner.get("content")
    receipt = _object(inner.get("receipt"))
    action = _object(receipt.get("action"))
    if not isinstance(content, str) or not content:
        raise BadPayload(
            "no content: the receipt rule's action must be SNS, with the message included "
            "(docs/inbound-webhooks.md)"
        )
    try:
        if str(action.get("encoding", "UTF8")).upper() == "BASE64":
            raw = base64.b64decode(content, validate=True)
        else:
            raw = content.encode("utf-8")
    except (binascii.Error, ValueError):
        raise BadPayload("the content is not base64") from None
    mail = _object(inner.get("mail"))
    return Delivered(raw, recipients(receipt.get("recipients")), str(mail.get("source") or ""))


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
