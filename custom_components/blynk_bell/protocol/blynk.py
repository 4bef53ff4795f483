"""The Blynk.Cloud device MQTT API, as spoken by a device (which is what we are)."""

from __future__ import annotations

from typing import Final

from .mqtt import SessionOptions

BLYNK_USERNAME: Final = "device"
BLYNK_KEEPALIVE: Final = 45


def blynk_session_options(token: str) -> SessionOptions:
    """Return how a device with this auth token logs in (clean sessions only)."""
    return SessionOptions(
        client_id="",
        username=BLYNK_USERNAME,
        password=token,
        keepalive=BLYNK_KEEPALIVE,
        clean_session=True,
        subscriptions=(("downlink/#", 0),),
    )
