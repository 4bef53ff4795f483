"""HMAC-SHA256 signatures over the protocol's signed texts (docs/bell-protocol.md).

Why HMAC is written out here: MicroPython's RPI_PICO_W firmware freezes no `hmac`
module (its manifest pulls in bundle-networking: mip, ntptime, ssl, requests,
webrepl), and micropython-lib's `hmac` rebuilds both padded keys with generator
expressions on every message, because the built-in sha256 objects have no copy().
The key is fixed for the bell's whole life, so this module pads it once at boot and
signs each message with two sha256 objects and the 64-byte hex result: four SHA-256
blocks in C and a handful of small allocations, fast enough to re-sign every press
at every (re)send.

HMAC (RFC 2104): H((K ^ opad) || H((K ^ ipad) || text)), with 64-byte blocks.
"""

import binascii
from hashlib import sha256

KEY_BYTES = 32
KEY_HEX_LENGTH = 64
SIG_HEX_LENGTH = 64
_BLOCK = 64
_HEX_DIGITS = b"0123456789abcdef"


def parse_key(value):
    """Return the 32 key bytes for a BELL_KEY setting, None for None; else ValueError.

    The message never repeats the value: a near-miss of a real key is still a secret.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("BELL_KEY must be a text in quotes (or None for unsigned messages)")
    if len(value) != KEY_HEX_LENGTH:
        raise ValueError(
            "BELL_KEY must be 64 hexadecimal characters, this one has %d; paste the "
            "line Home Assistant showed when you added the bell" % len(value)
        )
    for char in value.encode():
        if char not in _HEX_DIGITS:
            raise ValueError(
                "BELL_KEY may only contain 0-9 and lowercase a-f; paste the line Home "
                "Assistant showed when you added the bell"
            )
    return binascii.unhexlify(value)


class Signer:
    """Signs and checks texts with one key; the padded key blocks are made once."""

    def __init__(self, key):
        if len(key) > _BLOCK:
            key = sha256(key).digest()
        inner = bytearray(_BLOCK)
        outer = bytearray(_BLOCK)
        for index in range(_BLOCK):
            byte = key[index] if index < len(key) else 0
            inner[index] = byte ^ 0x36
            outer[index] = byte ^ 0x5C
        self._inner = bytes(inner)
        self._outer = bytes(outer)

    def __repr__(self):
        return "<Signer>"  # Never the key.

    def digest(self, text):
        """Return the 32-byte HMAC-SHA256 of `text` (bytes)."""
        inner = sha256(self._inner)
        inner.update(text)
        outer = sha256(self._outer)
        outer.update(inner.digest())
        return outer.digest()

    def sign(self, text):
        """Return the signature of `text` as 64 lowercase hex characters (a str)."""
        return binascii.hexlify(self.digest(text)).decode()

    def verify(self, text, signature):
        """Tell whether `signature` (a str from the network) signs `text`.

        Compares in time that does not depend on where the first difference is, so a
        stranger cannot find a valid signature byte by byte from response times.
        """
        if not isinstance(signature, str) or len(signature) != SIG_HEX_LENGTH:
            return False
        expected = self.sign(text).encode()
        try:
            given = signature.encode()
        except UnicodeError:
            return False
        if len(given) != SIG_HEX_LENGTH:
            return False  # Non-ASCII characters made it longer.
        difference = 0
        for index in range(SIG_HEX_LENGTH):
            difference |= expected[index] ^ given[index]
        return difference == 0


def signed_text(topic, *values):
    """Return `<topic>|<value>|...` as UTF-8 bytes: what a signature covers."""
    parts = [topic] + [value if isinstance(value, str) else "%d" % value for value in values]
    return "|".join(parts).encode()
