"""Blynk's "MQTT Air Cooler/Heater" template: its datastreams, their ranges, its Terminal.

What changes here is the template: a datastream renamed in the Blynk console, a slider's
range, the words the Terminal widget understands.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
import math
from typing import Final

POWER: Final = "Power"
SET_TEMPERATURE: Final = "Set Temperature"
CURRENT_TEMPERATURE: Final = "Current Temperature"
STATUS: Final = "Status"
TERMINAL: Final = "Terminal"
# The values a user sets, in the app or in Home Assistant: kept in sync both ways.
USER_DATASTREAMS: Final = (POWER, SET_TEMPERATURE)

MIN_SET_POINT: Final = 10.0
MAX_SET_POINT: Final = 30.0
DEFAULT_SET_POINT: Final = 23.0

HELP_TEXT: Final = (
    "Available commands:\n"
    "  set N    - set target temperature (10 to 30)\n"
    "  on       - turn on\n"
    "  off      - turn off\n"
    "  help, ?  - this list"
)
SET_USAGE: Final = "Usage: set N, where N is a temperature from 10 to 30"
ASK_FOR_HELP: Final = 'Type "help" for the list of commands'


class Status(IntEnum):
    """The `Status` datastream of the template."""

    OFF = 1
    IDLE = 2
    HEATING = 3
    COOLING = 4

    @property
    def color(self) -> str:
        """Return the widget colour the original demo uses for this status."""
        return _STATUS_COLORS[self]


_STATUS_COLORS: Final = {
    Status.OFF: "E4F6F7",
    Status.IDLE: "E6F7E4",
    Status.HEATING: "F7EAE4",
    Status.COOLING: "E4EDF7",
}


def clamp_set_point(value: float) -> float:
    """Keep a set point within what the template's slider allows."""
    return min(MAX_SET_POINT, max(MIN_SET_POINT, value))


def parse_number(text: str) -> float | None:
    """Read a finite number, or None."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_power(text: str) -> bool | None:
    """Read `Power` as the sample does (`bool(int(payload))`), but only 0 or 1."""
    number = parse_number(text)
    return None if number is None or number not in (0, 1) else number == 1


def format_power(on: bool) -> str:
    """Format `Power` for Blynk."""
    return "1" if on else "0"


def format_temperature(value: float) -> str:
    """Format a set point for Blynk: at most one decimal, none when whole (`22`, `22.5`)."""
    return f"{round(value, 1):g}"


class Command(StrEnum):
    """What a line typed in the Terminal widget asks for."""

    SET = "set"
    ON = "on"
    OFF = "off"
    HELP = "help"
    EMPTY = "empty"
    BAD_SET = "bad_set"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TerminalLine:
    """A parsed Terminal line: the command, and its number or unknown word."""

    command: Command
    number: float | None = None
    word: str = ""


def parse_terminal(text: str) -> TerminalLine:
    """Read a Terminal line; anything at all is a valid input (the sample's crashed)."""
    words = text.split()
    if not words:
        return TerminalLine(Command.EMPTY)
    first = words[0].lower()
    if first == "set":
        number = parse_number(words[1]) if len(words) == 2 else None
        return (
            TerminalLine(Command.BAD_SET) if number is None else TerminalLine(Command.SET, number)
        )
    if first in ("on", "off"):
        return TerminalLine(Command(first))
    if first in ("help", "?"):
        return TerminalLine(Command.HELP)
    return TerminalLine(Command.UNKNOWN, word=first[:40])
