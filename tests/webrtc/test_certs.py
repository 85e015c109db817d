import datetime
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from sfu_trio.webrtc.certs import Certificate, format_fingerprint


def test_fingerprint_is_sdp_formatted_sha256_of_the_certificate() -> None:
    certificate = Certificate.generate()
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", certificate.fingerprint_sha256)
    der_digest = certificate.x509.fingerprint(hashes.SHA256())
    assert certificate.fingerprint_sha256 == format_fingerprint(der_digest)


def test_format_fingerprint() -> None:
    assert format_fingerprint(bytes([0x00, 0xAB, 0x0F])) == "00:AB:0F"


def test_certificate_is_self_signed_ecdsa_p256_valid_around_now() -> None:
    now = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    certificate = Certificate.generate(now_datetime=now)
    cert = certificate.x509
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    assert cert.issuer == cert.subject
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
    assert isinstance(certificate.private_key, ec.EllipticCurvePrivateKey)


def test_each_certificate_is_unique() -> None:
    assert Certificate.generate().fingerprint_sha256 != Certificate.generate().fingerprint_sha256
