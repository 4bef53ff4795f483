"""Protocol and device logic for blynk_bell, free of Home Assistant imports.

Home Assistant glue in the parent package imports from here, never the reverse, so
this library can be tested (and reasoned about) on its own.
"""
