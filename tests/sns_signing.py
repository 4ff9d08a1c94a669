"""SNS as AWS documents it, for tests: a signing key whose certificate a fake fetcher
serves at ``CERT_URL``, and messages signed as SNS signs them. The string to sign is
written out here from AWS's documentation, independently of mailbridge's."""

from __future__ import annotations

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem"


def key_and_certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def signed(key: rsa.RSAPrivateKey, message: dict[str, str], version: str = "2") -> dict[str, str]:
    """As SNS signs: each field of the type, "Name\\nvalue\\n", in alphabetical order."""
    notification = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    subscription = [
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ]
    names = notification if message["Type"] == "Notification" else subscription
    text = "".join(f"{n}\n{message[n]}\n" for n in names if n in message)
    digest = hashes.SHA256() if version == "2" else hashes.SHA1()
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    return {**message, "SignatureVersion": version, "SigningCertURL": CERT_URL,
            "Signature": base64.b64encode(signature).decode()}  # fmt: skip
