"""Firmware logic tests, written to run under both MicroPython and CPython."""
