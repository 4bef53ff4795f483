"""Run the Pico W firmware on a computer: stand-in hardware and a driver for it."""
