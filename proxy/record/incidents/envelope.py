"""Envelope encryption: evidence under a per-period data key, the data key sealed to reviewers.

    data_key = new_data_key()
    blob = encrypt_evidence(data_key, b'[{"value": "13800138000"}]', aad=meta_bytes)
    sealed = seal(reviewer_public, data_key, info=b"baomi data key 2025-01-01-ab12cd34")
    ... later, off the host ...
    data_key = unseal(reviewer_private, sealed, info=b"baomi data key 2025-01-01-ab12cd34")
    decrypt_evidence(data_key, blob, aad=meta_bytes)

``seal`` is HPKE base mode (RFC 9180: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM)
from ``cryptography``: an ephemeral X25519 key per seal, so the proxy, which holds only the
public key, cannot open anything it sealed. The ``info`` string binds a sealed key to its
purpose and period, so a wrapped key cannot be swapped in for another period's.

Evidence is AES-256-GCM with a random 96-bit nonce (a period encrypts far fewer than 2**32
records, the safe limit for random nonces) and the clear metadata as associated data: editing
an incident's metadata makes its evidence fail to decrypt.

Protects: evidence at rest, from anyone without a reviewer private key, including the proxy
host after the period ends. Does not protect: the current period's evidence while the proxy
holds its data key in memory (the exposure window is one period, a UTC day), nor the
data in flight through the proxy itself.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from proxy.errors import CannotDecrypt
from proxy.record.incidents.entropy import token

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
NONCE_BYTES = 12


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(public_key: x25519.X25519PublicKey, secret: bytes, info: bytes) -> bytes:
    return _SUITE.encrypt(secret, public_key, info=info)


def unseal(private_key: x25519.X25519PrivateKey, sealed: bytes, info: bytes) -> bytes:
    try:
        return _SUITE.decrypt(sealed, private_key, info=info)
    except (InvalidTag, ValueError) as e:
        raise CannotDecrypt("sealed key does not open with this private key") from e


def encrypt_evidence(data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = token(NONCE_BYTES)  # os.urandom's bytes, without a GIL hand-off per record
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def decrypt_evidence(data_key: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(data_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError) as e:
        raise CannotDecrypt("evidence does not decrypt: wrong key or altered record") from e
