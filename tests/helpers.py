"""Small test helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import time

from homeassistant.core import HomeAssistant


async def wait_for(
    hass: HomeAssistant, condition: Callable[[], object], timeout: float = 10.0
) -> None:
    """Let real sockets and Home Assistant work until `condition` holds."""
    deadline = time.monotonic() + timeout
    while True:
        await hass.async_block_till_done()
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    """Return an entity's state, failing clearly when the entity does not exist."""
    state = hass.states.get(entity_id)
    assert state is not None, f"{entity_id} does not exist"
    return state.state
