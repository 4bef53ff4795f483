"""scripts/demo: Home Assistant with blynk_bell and everything it talks to, locally."""
