"""Benchmarks that print numbers: speed claims come from here, not from timed tests."""
