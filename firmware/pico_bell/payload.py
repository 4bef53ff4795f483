"""What the bell publishes, byte for byte (docs/bell-protocol.md; health in health.py).

Press on <topic>:
    {"button": 3, "event": "press", "boot": 17, "seq": 42, "age_ms": 120, "sig": "<hex>"}
    signed text: <topic>|<button>|<event>|<boot>|<seq>|<age_ms>
Status on <topic>/status (retained; the Last Will is the "offline" one):
    {"state": "online", "boot": 17, "sig": "<hex>"}
    signed text: <topic>/status|<state>|<boot>

Without a key the same JSON goes out without "sig". Presses dropped from a full queue
are counted in the health report (protocol version 2), no longer on a press. JSON is
built by hand: the member order is fixed on every MicroPython port and nothing is
allocated beyond the result.

Legacy (LEGACY = True): the SunFounder tutorial's text, "button N is pressed", for
dashboards that watch the tutorial topic. It carries no seq, so a press re-sent after
a lost PUBACK may show twice, and it cannot be signed. A long press sends the same
text as a short one, exactly as the tutorial reported every press.
"""

from .signing import signed_text

ONLINE = "online"
OFFLINE = "offline"
# The protocol's bound on age_ms: a day. Older presses are still sent, marked a day old.
MAX_AGE_MS = 86400000


def press_payload(press, now, topic, boot, signer=None, legacy=False):
    """Return the bytes to publish for `press` on `topic`; `now` is the uptime in ms.

    age_ms is how long ago the press happened at the moment of this (re)send, so the
    receiver can date a press that waited in the queue; the signature covers it, so
    each copy is signed when it is sent.
    """
    if legacy:
        return ("button %d is pressed" % press.button).encode()
    age = min(max(now - press.pressed_at, 0), MAX_AGE_MS)
    text = '{"button": %d, "event": "%s", "boot": %d, "seq": %d, "age_ms": %d' % (
        press.button,
        press.kind,
        boot,
        press.seq,
        age,
    )
    if signer is not None:
        text += ', "sig": "%s"' % signer.sign(
            signed_text(topic, press.button, press.kind, boot, press.seq, age)
        )
    return (text + "}").encode()


def status_payload(state, status_topic, boot, signer=None):
    """Return the retained status (`online` or `offline`) for `status_topic`."""
    text = '{"state": "%s", "boot": %d' % (state, boot)
    if signer is not None:
        text += ', "sig": "%s"' % signer.sign(signed_text(status_topic, state, boot))
    return (text + "}").encode()


def status_topic(topic):
    """The retained online/offline topic next to the press topic."""
    return topic + "/status"
