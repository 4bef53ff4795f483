"""The bell's health report on <topic>/health (protocol version 2).

    {"boot": 17, "n": 3, "fw": "1.2.0", "rssi": -61, "uptime_s": 3600, "dropped": 0,
     "vsys_mv": 3920, "sig": "<64 hex>"}
    signed text: <topic>/health|<boot>|<n>|<fw>|<rssi>|<uptime_s>|<dropped>|<vsys_mv>

Sent after every connect and every 5 minutes, QoS 0, retained. `vsys_mv` is only there
with BATTERY = True (an empty field in the signed text otherwise). Every number is put
inside the protocol's range here, so a surprising reading (a radio that reports +5 dBm,
a divider that reads 7 V) still makes a message the integration accepts.
"""

from .signing import signed_text

INTERVAL_MS = 300000
MAX_U32 = 0xFFFFFFFF


def _within(value, low, high):
    return low if value < low else high if value > high else value


def health_payload(topic, boot, n, firmware, rssi, uptime_s, dropped, vsys_mv, signer=None):
    """Return the bytes of one health report for `topic` (<bell topic>/health)."""
    rssi = _within(int(rssi), -120, 0)
    uptime_s = _within(int(uptime_s), 0, MAX_U32)
    dropped = _within(int(dropped), 0, MAX_U32)
    text = '{"boot": %d, "n": %d, "fw": "%s", "rssi": %d, "uptime_s": %d, "dropped": %d' % (
        boot,
        n,
        firmware,
        rssi,
        uptime_s,
        dropped,
    )
    if vsys_mv is not None:
        vsys_mv = _within(int(vsys_mv), 0, 6000)
        text += ', "vsys_mv": %d' % vsys_mv
    if signer is not None:
        vsys_field = "" if vsys_mv is None else "%d" % vsys_mv
        text += ', "sig": "%s"' % signer.sign(
            signed_text(topic, boot, n, firmware, rssi, uptime_s, dropped, vsys_field)
        )
    return (text + "}").encode()
