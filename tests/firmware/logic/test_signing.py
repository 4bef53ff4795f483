"""HMAC-SHA256 as the firmware computes it, checked against RFC 4231 on both Pythons."""

import binascii
import gc
import sys

from pico_bell.signing import Signer, parse_key, signed_text

from .support import raises

# RFC 4231, test cases 1, 2 and 6 (a key longer than the 64-byte block).
RFC_4231 = [
    (
        b"\x0b" * 20,
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
]


def test_hmac_sha256_matches_rfc_4231():
    for key, text, expected in RFC_4231:
        signer = Signer(key)
        assert signer.sign(text) == expected
        assert binascii.hexlify(signer.digest(text)).decode() == expected
        assert signer.sign(text) == expected  # Signing twice gives the same answer.


def test_verify_accepts_only_the_exact_signature():
    signer = Signer(parse_key("ab" * 32))
    text = signed_text("bell/calls", 17, 120, 1, "icai")
    good = signer.sign(text)
    assert signer.verify(text, good)
    assert not signer.verify(text + b"x", good)
    flipped = ("0" if good[0] != "0" else "1") + good[1:]
    assert not signer.verify(text, flipped)
    assert not signer.verify(text, good[:-1])
    assert not signer.verify(text, good.upper())  # The protocol's hex is lowercase.
    assert not signer.verify(text, None)
    assert not signer.verify(text, 12345)
    assert not signer.verify(text, "\u00e9" * 64)  # 64 characters, 128 bytes.
    assert not Signer(parse_key("cd" * 32)).verify(text, good)


def test_signed_text_is_the_protocol_example():
    assert signed_text("SunFounder MQTT Test", 3, "press", 17, 42, 120) == (
        b"SunFounder MQTT Test|3|press|17|42|120"
    )
    assert signed_text("t/health", 1, 2, "1.2.0", -61, 3600, 0, "") == (
        b"t/health|1|2|1.2.0|-61|3600|0|"
    )
    assert signed_text("caf\u00e9", "x") == "caf\u00e9|x".encode()


def test_key_parsing():
    assert parse_key(None) is None
    assert parse_key("00" * 31 + "ff") == b"\x00" * 31 + b"\xff"
    for bad in ("ab" * 31, "ab" * 33, "AB" * 32, "zz" * 32, " " + "ab" * 31 + "a"):
        err = raises(ValueError, parse_key, bad)
        assert bad not in str(err)
    raises(ValueError, parse_key, b"ab" * 32)
    assert "key" not in repr(Signer(b"secret")).lower().replace("signer", "")


def test_signing_allocates_little():
    if sys.implementation.name != "micropython":
        return  # gc.mem_alloc is MicroPython's; the figure only matters on the board.
    signer = Signer(parse_key("5a" * 32))
    text = signed_text("SunFounder MQTT Test", 3, "press", 17, 42, 120)
    signer.sign(text)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(10):
            signer.sign(text)
        used = (gc.mem_alloc() - before) // 10
    finally:
        gc.enable()
    assert used < 1024, used  # Two hash objects, a digest, 64 hex characters.
