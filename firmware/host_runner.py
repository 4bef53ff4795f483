"""Try the service bell without a Pico W: the firmware on CPython, buttons on stdin.

    .venv/bin/python firmware/host_runner.py --broker 127.0.0.1 --port 1883 \
        --topic "SunFounder MQTT Test" [--key HEX] [--state FILE] [--auto] [--legacy]

Type a line and press Enter (N from 1 to --buttons, 4 by default):
    N      press button N              LN      long-press button N
    DN     double-press button N       w       take the Wi-Fi away / bring it back
    s      status                      q       quit (publishes "offline" first)

When Home Assistant's calls feedback changes, it prints the tables' LEDs:
    LEDs: 1 ● 2 ◐ 3 ○ 4 ○      ● acknowledged (steady), ◐ calling (blinking), ○ idle

--key (or the BELL_KEY environment variable, which keeps it out of process lists)
signs every message; --state is the file that plays the board's flash, so the boot
counter counts on from run to run. --auto presses random buttons every few
seconds, for demos. The same firmware
modules as on the board run here; only `machine` and `network` are stand-ins
(firmware/pico_host/fakes.py).
"""

import argparse
import asyncio
import logging
import os
from pathlib import Path
import random
import signal
import sys
import threading

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pico_bell import led  # noqa: E402
from pico_bell.settings import ConfigError  # noqa: E402
from pico_host.runner import HostBell, describe_press  # noqa: E402


def help_text(buttons):
    """Return the keys the runner takes for `buttons` buttons: those _command acts on."""
    n = buttons
    return (
        f"keys: 1-{n} press, L1-L{n} long press, D1-D{n} double press, "
        "w toggle Wi-Fi, s status, q quit"
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default 1883, 8883 with --tls")
    parser.add_argument("--topic", default="SunFounder MQTT Test")
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--ca-file", help="CA certificate to verify the broker with")
    parser.add_argument("--buttons", type=int, default=4)
    parser.add_argument(
        "--key",
        default=os.environ.get("BELL_KEY") or None,
        help="BELL_KEY, 64 hex characters (default: $BELL_KEY; none: unsigned messages)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        help="file keeping the boot counter, like the board's flash (default: in memory)",
    )
    parser.add_argument(
        "--no-table-leds",
        action="store_true",
        help="no LED per table: the on-board LED shows the calls instead",
    )
    parser.add_argument("--legacy", action="store_true", help="publish 'button N is pressed'")
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1)
    parser.add_argument("--auto", action="store_true", help="press random buttons by itself")
    parser.add_argument(
        "--auto-interval", type=float, default=4.0, help="mean seconds between auto presses"
    )
    parser.add_argument(
        "--auto-long", type=float, default=0.0, help="share of auto presses that are long (0-1)"
    )
    parser.add_argument("--quiet", action="store_true", help="only print deliveries")
    return parser.parse_args(argv)


def _stdin_lines(loop, queue):
    """Read stdin in a daemon thread, so a pending read never delays exit."""

    def read():
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.strip())
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="stdin", daemon=True).start()


async def _auto(bell, args):
    rng = random.Random()
    while True:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * args.auto_interval)
        button = rng.randint(1, args.buttons)
        if rng.random() < args.auto_long:
            await bell.long_press(button)
        else:
            await bell.press(button)


async def run(args):
    def say(text):
        print(text, flush=True)

    bell = HostBell(
        args.broker,
        args.port,
        args.topic,
        legacy=args.legacy,
        buttons=args.buttons,
        username=args.username,
        password=args.password,
        tls=args.tls,
        ca_file=args.ca_file,
        settings={"QOS": args.qos},
        sink=(lambda _text: None) if args.quiet else say,
        key=args.key,
        state_file=args.state,
        led_pins=not args.no_table_leds,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    shown = [bell.led_line()]

    def on_event(event, press):
        if event == "delivered":
            say(f">>> delivered: {describe_press(press)}")
        elif event == "calls" and bell.led_line() != shown[0]:
            shown[0] = bell.led_line()
            say(shown[0])  # ● acknowledged (steady), ◐ calling (blinking), ○ idle.

    bell.on_event = on_event
    await bell.start()
    say(help_text(args.buttons))
    commands = asyncio.Queue()
    _stdin_lines(loop, commands)
    tasks = [asyncio.create_task(_auto(bell, args))] if args.auto else []
    stopping = asyncio.create_task(stop.wait())
    try:
        while True:
            getting = asyncio.create_task(commands.get())
            done, _ = await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                getting.cancel()
                break
            line = getting.result()
            if line is None:  # stdin closed: keep running with --auto, else quit.
                if args.auto:
                    await stop.wait()
                break
            if not await _command(bell, line, say, args.buttons, tasks):
                break
    finally:
        for task in tasks:
            task.cancel()
        stopping.cancel()
        await asyncio.gather(*tasks, stopping, return_exceptions=True)
        await bell.stop()


async def _command(bell, line, say, buttons, tasks):
    tasks[:] = [task for task in tasks if not task.done()]
    text = line.strip().lower()
    if not text:
        return True
    if text == "q":
        return False
    if text == "w":
        bell.set_wifi(not bell.network.available)
        say(f"Wi-Fi {'back' if bell.network.available else 'gone'}")
    elif text == "s":
        firmware = bell.bell
        say(
            f"state: {led.NAMES[firmware.state]}, waiting: {len(firmware.queue)}, "
            f"stats: {firmware.stats}"
        )
        say(bell.led_line())
    elif text.isdigit() and 1 <= int(text) <= buttons:
        tasks.append(asyncio.create_task(bell.press(int(text))))
    elif text[:1] == "l" and text[1:].isdigit() and 1 <= int(text[1:]) <= buttons:
        tasks.append(asyncio.create_task(bell.long_press(int(text[1:]))))
    elif text[:1] == "d" and text[1:].isdigit() and 1 <= int(text[1:]) <= buttons:
        tasks.append(asyncio.create_task(bell.double_press(int(text[1:]))))
    else:
        say(help_text(buttons))
    return True


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        asyncio.run(run(args))
    except ConfigError as err:  # Said the way the board says it; the key never shown.
        sys.exit(f"host_runner: {err}")


if __name__ == "__main__":
    main()
