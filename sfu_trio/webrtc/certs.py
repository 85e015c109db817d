"""The server's DTLS certificate: ECDSA P-256, self-signed, made once at start-up."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

_VALIDITY = datetime.timedelta(days=365)
_BACKDATE = datetime.timedelta(days=1)


def format_fingerprint(digest: bytes) -> str:
    """Format a digest as SDP writes it (RFC 8122): upper-case hex pairs joined by colons."""
    return ":".join(f"{byte:02X}" for byte in digest)


def certificate_fingerprint_sha256(certificate: x509.Certificate) -> str:
    """The SHA-256 fingerprint of a certificate, as in `a=fingerprint:sha-256 ...`."""
    return format_fingerprint(certificate.fingerprint(hashes.SHA256()))


@dataclass(frozen=True, slots=True)
class Certificate:
    """A DTLS identity: private key and self-signed certificate.

    Kept as `cryptography` objects, which pyOpenSSL's `Context` takes directly (passing its
    own `X509`/`PKey` wrappers is deprecated since pyOpenSSL 24.3).
    """

    x509: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey
    fingerprint_sha256: str

    @classmethod
    def generate(cls, now_datetime: datetime.datetime | None = None) -> Certificate:
        """Make a fresh ECDSA P-256 self-signed certificate valid from a day before `now`."""
        if now_datetime is None:
            now_datetime = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, secrets.token_hex(16))])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now_datetime - _BACKDATE)
            .not_valid_after(now_datetime + _VALIDITY)
            .sign(key, hashes.SHA256())
        )
        return cls(
            x509=cert,
            private_key=key,
            fingerprint_sha256=certificate_fingerprint_sha256(cert),
        )
