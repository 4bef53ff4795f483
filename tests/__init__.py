"""Tests for blynk_bell."""
