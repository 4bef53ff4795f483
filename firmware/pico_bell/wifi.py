"""Joining the Wi-Fi without blocking the main loop.

wlan.connect() only starts the join; this module polls wlan.status() from asyncio
with a timeout, so buttons, LED and watchdog keep running meanwhile. Power saving is
turned off: with it on, the Pico W's radio dozes and MQTT packets (pings, PUBACKs)
arrive late or not at all, which looks like a dead broker.
"""

import asyncio

# network.STAT_* values of the Pico W, for stand-ins that do not define them.
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_GOT_IP = 3
STAT_CONNECT_FAIL = -1
STAT_NO_AP_FOUND = -2
STAT_WRONG_PASSWORD = -3

# CYW43 power management "none": no power saving, always listening.
PM_NONE = 0xA11140

_REASONS = {
    STAT_CONNECT_FAIL: "connection failed",
    STAT_NO_AP_FOUND: "network not found",
    STAT_WRONG_PASSWORD: "wrong Wi-Fi password",
}


class WiFi:
    def __init__(self, board, ssid, password, country=None, hostname=None, log=None):
        self._board = board
        self._network = board.network
        self.ssid = ssid
        self._password = password
        self._country = country
        self._hostname = hostname
        self._log = log or (lambda message: None)
        self._wlan = None

    def _interface(self):
        if self._wlan is None:
            network = self._network
            if self._country and hasattr(network, "country"):
                network.country(self._country)
            if self._hostname and hasattr(network, "hostname"):
                network.hostname(self._hostname)
            self._wlan = self._board.wlan()
        return self._wlan

    def isconnected(self):
        return self._wlan is not None and bool(self._wlan.isconnected())

    def address(self):
        if not self.isconnected():
            return None
        return self._wlan.ifconfig()[0]

    async def connect(self, timeout_s, beat=None):
        """Join the network; return None on success or the reason it failed."""
        wlan = self._interface()
        if wlan.isconnected():
            return None
        wlan.active(True)
        wlan.config(pm=PM_NONE)
        self._log("Wi-Fi: joining %r" % self.ssid)
        wlan.connect(self.ssid, self._password)
        waited = 0
        status = STAT_CONNECTING
        while waited < timeout_s * 1000:
            if wlan.isconnected():
                self._log("Wi-Fi: connected, address %s" % self.address())
                return None
            status = wlan.status()
            if status in _REASONS:
                break
            if beat is not None:
                beat()
            await asyncio.sleep(0.2)
            waited += 200
        reason = _REASONS.get(status, "no connection within %d s" % timeout_s)
        try:
            wlan.disconnect()  # Stop the half-finished join before the next attempt.
        except OSError:
            pass
        self._log("Wi-Fi: %s" % reason)
        return reason
