"""The boot counter: how many times this bell has started, kept in a small flash file.

Every signed message carries it, and Home Assistant accepts a press only when its
(boot, seq) is newer than the last one it accepted; seq starts at 1 at every boot, so
the counter must never go back. It is read and written once per boot, before anything
is published: one small write per boot is nothing for the flash.

The new value goes to `<file>.tmp` first and is then renamed over the file, so a power
cut leaves the old or the new value, never half of one (littlefs renames atomically;
FAT replaces in two steps, which is why the .tmp copy is read too). Both files are
read, and the higher valid value wins. A missing or unreadable file never stops the
bell: it counts on from what it can read, or from 0 on a first start.
"""

MAX_BOOT = 0xFFFFFFFF
_MAX_DIGITS = 10


def parse(data):
    """Return the boot number stored in `data` (bytes), or None if it is not one."""
    if data is None:
        return None
    text = bytes(data).strip()
    if not 0 < len(text) <= _MAX_DIGITS or not text.isdigit():
        return None
    value = int(text)
    return value if value <= MAX_BOOT else None


def advance(board, path, log=None):
    """Return this boot's number (the stored one + 1) and store it.

    `board` provides read_file(path) -> bytes or None and write_file(path, data).
    """
    log = log or (lambda message: None)
    found = []
    damaged = []
    for name in (path, path + ".tmp"):
        try:
            data = board.read_file(name)
        except OSError as err:
            damaged.append("%s (%s)" % (name, err))
            continue
        if data is None:
            continue
        value = parse(data)
        if value is None:
            damaged.append("%s (%d bytes, not a number)" % (name, len(data)))
        else:
            found.append(value)
    previous = max(found) if found else 0
    if damaged:
        log("boot counter: ignored %s" % ", ".join(damaged))
        if not found:
            log(
                "boot counter: starting again from 1; a keyed Home Assistant ignores "
                "this bell's presses until the count passes the last one it accepted"
            )
    boot = min(previous + 1, MAX_BOOT)
    if boot == previous:
        log("boot counter: at its maximum %d" % MAX_BOOT)
    try:
        board.write_file(path, ("%d\n" % boot).encode())
    except OSError as err:
        log("boot counter: could not save %d to %s: %s" % (boot, path, err))
    return boot
