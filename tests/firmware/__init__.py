"""Tests of the Pico W firmware: logic under MicroPython and CPython, end to end."""
