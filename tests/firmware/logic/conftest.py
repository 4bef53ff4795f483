"""The logic tests need no Home Assistant: skip setting one up for each of them."""

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override tests/conftest.py's fixture, which would start Home Assistant."""
