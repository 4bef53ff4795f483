"""The wall clock, set by SNTP before a verified TLS connection.

Why: MicroPython's TLS on the rp2 port is mbedtls with MBEDTLS_HAVE_TIME_DATE, so
it checks a certificate's validity dates against the board's clock
(extmod/mbedtls/mbedtls_config_common.h; ports/rp2/mbedtls/mbedtls_port.c reads the
RTC, since v1.20), and ports/rp2/main.c starts that clock at 2021-01-01 on every
boot. A broker certificate issued since then is "not yet valid" until the clock is
set, so a verified TLS connection fails. An unverified one (no TLS_CA_FILE) checks
no dates and needs no clock.

SNTP (RFC 4330) over a non-blocking UDP socket, polled from asyncio, so the loop
keeps running while the answer is on its way; a few attempts, each bounded. The
server's name is looked up like the broker's (Bell._lookup), with the watchdog fed.
Dates are converted here rather than with time.gmtime(), whose epoch is 1970 or
2000 depending on the MicroPython version.
"""

# Seconds from 1900-01-01 (NTP's epoch) to 1970-01-01 (this module's).
NTP_TO_UNIX = 2208988800
# 2025-01-01: a clock before this has not been set (the firmware is newer than that).
# It also places NTP's 32-bit seconds, which wrap in 2036, in the right era.
MIN_VALID_S = 1735689600
NTP_PORT = 123
_REQUEST = b"\x1b" + bytes(47)  # LI 0, version 3, mode 3 (client); nothing else.


def is_set(seconds):
    """Tell whether a clock reading `seconds` (Unix time) has been set."""
    return seconds is not None and seconds >= MIN_VALID_S


def request():
    return _REQUEST


def parse_reply(data):
    """Return the Unix time in an SNTP reply, or None if it is not a usable answer."""
    if data is None or len(data) < 48:
        return None
    mode = data[0] & 0x07
    stratum = data[1]
    if mode != 4 or not 1 <= stratum <= 15:  # Not a server's answer, or a kiss-of-death.
        return None
    seconds = (data[40] << 24) | (data[41] << 16) | (data[42] << 8) | data[43]
    if not seconds:
        return None
    unix = seconds - NTP_TO_UNIX
    if unix < MIN_VALID_S:
        unix += 1 << 32  # After 2036-02-07 the 32-bit count has wrapped.
    if not MIN_VALID_S <= unix < MIN_VALID_S + (1 << 32):
        return None
    return unix


async def sync(board, address, port=NTP_PORT, attempts=3, timeout_ms=2000, log=None):
    """Ask the SNTP server at `address` (already looked up) and set the board's clock.

    Returns True once set. At most `attempts` requests, each waiting `timeout_ms`.
    """
    log = log or (lambda message: None)
    for attempt in range(1, attempts + 1):
        try:
            reply = await board.udp_request(address, port, request(), timeout_ms)
        except OSError as err:
            log("clock: NTP request %d/%d failed: %s" % (attempt, attempts, err))
            continue
        unix = parse_reply(reply)
        if unix is None:
            log("clock: no usable NTP answer (%d/%d)" % (attempt, attempts))
            continue
        board.set_clock(unix)
        log("clock: set by NTP to %s UTC" % format_time(unix))
        return True
    return False


# Dates ------------------------------------------------------------------------------
# Howard Hinnant's days-from-civil algorithms (http://howardhinnant.github.io/date_algorithms.html).


def days_from_civil(year, month, day):
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def civil_from_days(days):
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    mp = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def to_datetime(unix):
    """Return the RTC tuple (year, month, day, weekday, hour, minute, second, 0)."""
    days, rest = divmod(unix, 86400)
    year, month, day = civil_from_days(days)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0, as machine.RTC.
    return (year, month, day, weekday, rest // 3600, rest // 60 % 60, rest % 60, 0)


def from_datetime(value):
    """Return the Unix time of an RTC tuple (year, month, day, weekday, h, m, s, ...)."""
    year, month, day, _weekday, hour, minute, second = value[:7]
    return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


def format_time(unix):
    year, month, day, _weekday, hour, minute, second, _ = to_datetime(unix)
    return "%04d-%02d-%02d %02d:%02d:%02d" % (year, month, day, hour, minute, second)
