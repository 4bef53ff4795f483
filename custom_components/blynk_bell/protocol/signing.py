"""The bell's message signatures (docs/bell-protocol.md): HMAC-SHA256 over a signed text.

The signed text is the topic and the message's values joined by `|`, built the same way
on the bell and here, so no canonical JSON is needed on a microcontroller.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Final

KEY_BYTES: Final = 32
SIGNATURE_HEX_LENGTH: Final = 64
_KEY_TEXT = re.compile(r"[0-9a-f]{64}")


class InvalidKey(ValueError):
    """A bell key that is not 64 hexadecimal characters."""


def generate_key() -> str:
    """Return a new bell key: 32 random bytes as 64 lowercase hex characters."""
    return secrets.token_hex(KEY_BYTES)


def normalize_key(text: str) -> str:
    """Return the key in its stored form (lowercase, no spaces), or raise InvalidKey."""
    key = text.strip().lower()
    if not _KEY_TEXT.fullmatch(key):
        raise InvalidKey("a bell key is 64 hexadecimal characters")
    return key


def key_bytes(key: str) -> bytes:
    """Return the 32 bytes a stored key stands for."""
    return bytes.fromhex(key)


def signed_text(topic: str, *values: int | str) -> bytes:
    """Return `<topic>|<value>|...` as UTF-8: what a signature covers."""
    return "|".join((topic, *(str(value) for value in values))).encode()


def sign(key: bytes, text: bytes) -> str:
    """Return the lowercase hex HMAC-SHA256 of `text`."""
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def signature_matches(key: bytes, text: bytes, signature: object) -> bool:
    """Tell whether `signature` is the right one for `text`, in constant time."""
    if not isinstance(signature, str) or len(signature) != SIGNATURE_HEX_LENGTH:
        return False
    return hmac.compare_digest(sign(key, text), signature.lower())


def press_text(topic: str, *, button: int, event: str, boot: int, seq: int, age_ms: int) -> bytes:
    """Return the signed text of a press on `<topic>`."""
    return signed_text(topic, button, event, boot, seq, age_ms)


def status_text(topic: str, *, state: str, boot: int) -> bytes:
    """Return the signed text of a status on `<topic>/status` (`topic` is the bell topic)."""
    return signed_text(f"{topic}/status", state, boot)


def health_text(
    topic: str,
    *,
    boot: int,
    n: int,
    firmware: str,
    rssi: int,
    uptime_s: int,
    dropped: int,
    vsys_mv: int | None,
) -> bytes:
    """Return the signed text of a health report on `<topic>/health`."""
    return signed_text(
        f"{topic}/health",
        boot,
        n,
        firmware,
        rssi,
        uptime_s,
        dropped,
        "" if vsys_mv is None else vsys_mv,
    )


def calls_text(topic: str, *, boot: int, n: int, is_open: bool, tables: str) -> bytes:
    """Return the signed text of the calls feedback on `<topic>/calls`."""
    return signed_text(f"{topic}/calls", boot, n, int(is_open), tables)
