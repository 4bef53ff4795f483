"""An emulator of the Blynk.Cloud device MQTT API, for tests and the demo.

Blynk.Cloud cannot be reached from where this project is built and tested, so this
package reproduces the behaviour described in shared/blynk-mqtt-api.md over real
MQTT 3.1.1 on real sockets (TCP, TLS, WebSocket): token auth, one connection per
token, `downlink/` subscriptions only, the 1024-byte and 50-messages-per-second
limits, redirect, ping and get/ds. It imports nothing from Home Assistant.

The core (`cloud.py`: rules, devices, admission; `device.py`) imports no front end;
the front ends (`session.py` for MQTT, `http_api.py`, the listeners in `server.py`)
use the core.
"""

from __future__ import annotations

from .cloud import DuplicatePolicy
from .device import (
    SYNC_WITH_LATEST,
    TEMPLATE_DATASTREAMS,
    TEMPLATE_DEFAULTS,
    Device,
    Published,
)
from .server import BlynkCloud

__all__ = [
    "SYNC_WITH_LATEST",
    "TEMPLATE_DATASTREAMS",
    "TEMPLATE_DEFAULTS",
    "BlynkCloud",
    "Device",
    "DuplicatePolicy",
    "Published",
]
