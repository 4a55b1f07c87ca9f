"""Ed25519 keys and signatures for checkpoints (the `cryptography` package).

A signed checkpoint carries

    "signature": {"algorithm": "ed25519", "key_id": "sha256:<hex>", "value": "<128 hex digits>"}

where `value` is the Ed25519 signature of the UTF-8 of the RFC 8785 form of the
checkpoint without its "signature" member, and `key_id` is `sha256:` + SHA-256 of the
public key's 32 raw bytes (which key signed, so that a wrong key is named as such).
Keys are PEM files: PKCS #8 for the private key, SubjectPublicKeyInfo for the public
one, as `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.canonical import canonical_json
from audit.errors import AuditError, AuditInputError
from audit.files import read_regular_file, write_new_file

ALGORITHM = "ed25519"
_KEY_FILE_BYTES = 64 << 10  # a PEM key is a few hundred bytes


def generate_keys(private: str | os.PathLike, public: str | os.PathLike) -> str:
    """Write a new key pair: the private key owner-only (0600), neither file replacing
    anything (a symlink in their place counts as a file). Returns the key id."""
    key = Ed25519PrivateKey.generate()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    if os.path.lexists(public):  # before writing the private key, which would then be left alone
        raise AuditInputError(f"public key file {public} already exists: refused")
    write_new_file(Path(private), private_pem, "private key file", mode=0o600)
    write_new_file(Path(public), public_pem, "public key file")
    return key_id(key.public_key())


def load_private_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    """The signing key in `path`, a regular file of this user's that no one else may read."""
    data = read_regular_file(path, "private key file", _KEY_FILE_BYTES, owned=True, private=True)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuditInputError(f"private key file {path} holds no unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditInputError(f"private key file {path} is not an Ed25519 key")
    return key


def load_public_key(path: str | os.PathLike) -> Ed25519PublicKey:
    data = read_regular_file(path, "public key file", _KEY_FILE_BYTES)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise AuditInputError(f"public key file {path} holds no PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditInputError(f"public key file {path} is not an Ed25519 key")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def signed(document: dict, private_key: Ed25519PrivateKey) -> dict:
    """`document` with its signature."""
    unsigned = _unsigned(document)
    value = private_key.sign(canonical_json(unsigned).encode())
    return {**unsigned, "signature": {"algorithm": ALGORITHM, "key_id": key_id(private_key.public_key()),
                                      "value": value.hex()}}


def check_signature(document: dict, public_key: Ed25519PublicKey, source: str | os.PathLike) -> None:
    """AuditError unless `document` is signed, by `public_key`, and unchanged since."""
    signature = document.get("signature")
    if signature is None:
        raise AuditError(f"checkpoint {source} is not signed, but a public key was given: refused "
                         "(an unsigned checkpoint proves nothing about who wrote it)")
    expected_id = key_id(public_key)
    if signature["key_id"] != expected_id:
        raise AuditError(f"checkpoint {source} was signed by another key ({signature['key_id']}), not by the "
                         f"public key given ({expected_id}): refused")
    try:
        public_key.verify(bytes.fromhex(signature["value"]), canonical_json(_unsigned(document)).encode())
    except InvalidSignature:
        raise AuditError(f"checkpoint {source}: its signature does not match its content, so it was changed "
                         "after it was signed: refused") from None


def _unsigned(document: dict) -> dict:
    """What a signature covers: the document without its "signature" member."""
    return {name: value for name, value in document.items() if name != "signature"}
