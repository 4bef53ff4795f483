"""What a press looks like on the wire.

JSON (default): {"button": N, "event": "press", "seq": K, "age_ms": A}, plus
"dropped": D on the first press sent after the queue overflowed. The text is built
by hand so the key order is fixed on every MicroPython port (dicts there do not
keep insertion order) and nothing is allocated beyond the result.

Legacy (LEGACY = True): the SunFounder tutorial's text, "button N is pressed", for
dashboards that watch the tutorial topic. It carries no seq, so a press re-sent
after a lost PUBACK may show twice. A long press sends the same text as a short
one, exactly as the tutorial reported every press.
"""

ONLINE = b"online"
OFFLINE = b"offline"


def press_payload(press, now, legacy=False):
    """Return the bytes to publish for `press`; `now` is the uptime in ms.

    age_ms is how long ago the press happened at the moment of this (re)send, so
    the receiver can date a press that waited in the queue.
    """
    if legacy:
        return ("button %d is pressed" % press.button).encode()
    age = max(now - press.pressed_at, 0)
    text = '{"button": %d, "event": "%s", "seq": %d, "age_ms": %d' % (
        press.button,
        press.kind,
        press.seq,
        age,
    )
    if press.dropped:
        text += ', "dropped": %d' % press.dropped
    return (text + "}").encode()


def status_topic(topic):
    """The retained online/offline topic next to the press topic."""
    return topic + "/status"
