"""Talk to the demo's Home Assistant over its public HTTP API, as a person would click.

Onboarding creates the demo user, and the config entry comes from the integration's own
config flow: the demo exercises the paths a real installation takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import time
from typing import Any

import aiohttp

from .processes import Child, DemoError

DOMAIN = "blynk_bell"


class HomeAssistantApi:
    """A logged-in session against one Home Assistant."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        """Talk to Home Assistant at `base_url`; `async_login` first."""
        self._session = session
        self.base_url = base_url
        self._client_id = f"{base_url}/"
        self._headers: dict[str, str] = {}

    async def async_wait_started(self, child: Child, timeout: float) -> None:
        """Wait until Home Assistant answers HTTP (its integrations are set up by then)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.running:
                raise DemoError(f"Home Assistant exited at start:\n{child.tail(30)}")
            try:
                # Public, unlike /api/, where each probe would count as a failed login.
                async with self._session.get(f"{self.base_url}/manifest.json") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
        raise DemoError(f"Home Assistant did not start within {timeout:.0f} s:\n{child.tail(30)}")

    async def async_needs_user(self) -> bool:
        """Tell whether onboarding still waits for its first user."""
        async with self._session.get(f"{self.base_url}/api/onboarding") as response:
            if response.status == 404:
                return False  # Onboarding is over: its views are gone.
            steps = await response.json()
        return any(step["step"] == "user" and not step["done"] for step in steps)

    async def async_create_owner(self, name: str, username: str, password: str) -> None:
        """Finish onboarding's user step: the owner account, and its person."""
        result = await self._json(
            "POST",
            "/api/onboarding/users",
            auth=False,
            json={
                "client_id": self._client_id,
                "name": name,
                "username": username,
                "password": password,
                "language": "en",
            },
        )
        await self._async_token(result["auth_code"])

    async def async_login(self, username: str, password: str) -> None:
        """Log in through the login flow the frontend uses."""
        flow = await self._json(
            "POST",
            "/auth/login_flow",
            auth=False,
            json={
                "client_id": self._client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self._client_id,
            },
        )
        result = await self._json(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            auth=False,
            json={"client_id": self._client_id, "username": username, "password": password},
        )
        if result.get("type") != "create_entry":
            raise DemoError(
                "Home Assistant refused the demo user's password; start afresh with "
                "`scripts/demo --reset`"
            )
        await self._async_token(result["result"])

    async def _async_token(self, code: str) -> None:
        async with self._session.post(
            f"{self.base_url}/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": self._client_id},
        ) as response:
            if response.status != 200:
                raise DemoError(f"Home Assistant refused the login code: {await response.text()}")
            token = (await response.json())["access_token"]
        self._headers = {"Authorization": f"Bearer {token}"}

    async def async_entries(self) -> list[dict[str, Any]]:
        """Return the integration's config entries."""
        entries: list[dict[str, Any]] = await self._json(
            "GET", f"/api/config/config_entries/entry?domain={DOMAIN}"
        )
        return entries

    async def async_add_entry(self, *steps: dict[str, Any]) -> dict[str, Any]:
        """Run the integration's config flow with one input per form; return the result."""
        result = await self._json(
            "POST",
            "/api/config/config_entries/flow",
            json={"handler": DOMAIN, "show_advanced_options": False},
        )
        for user_input in steps:
            if result.get("type") != "form":
                break
            if result.get("errors"):
                raise DemoError(f"the config flow refused the demo settings: {result['errors']}")
            result = await self._json(
                "POST", f"/api/config/config_entries/flow/{result['flow_id']}", json=user_input
            )
        if result.get("type") != "create_entry":
            raise DemoError(f"the config flow did not create an entry: {result}")
        entry: dict[str, Any] = result
        return entry

    async def async_set_options(self, entry_id: str, changes: Mapping[str, Any]) -> list[str]:
        """Change options through the entry's options flow, as a person would.

        Opens the options form, keeps every field as the form shows it (in sections too),
        sets the fields named in `changes` and submits. Returns the names the form does
        not offer; then, or when the options hold `changes` already, nothing is posted.
        """
        form = await self._json(
            "POST",
            "/api/config/config_entries/options/flow",
            json={"handler": entry_id, "show_advanced_options": False},
        )
        path = f"/api/config/config_entries/options/flow/{form['flow_id']}"
        current: dict[str, Any] = {}

        def fill(fields: list[dict[str, Any]]) -> dict[str, Any]:
            values: dict[str, Any] = {}
            for field in fields:
                name = field["name"]
                if field.get("type") == "expandable":  # A section: its fields nest.
                    values[name] = fill(field["schema"])
                    continue
                shown = (field.get("description") or {}).get("suggested_value")
                shown = field.get("default") if shown is None else shown
                if name in changes:
                    current[name] = shown
                    values[name] = changes[name]
                elif shown is not None:
                    values[name] = shown
            return values

        user_input = fill(form.get("data_schema") or [])
        missing = [name for name in changes if name not in current]
        if missing or current == dict(changes):
            await self._json("DELETE", path)
            return missing
        result = await self._json("POST", path, json=user_input)
        if result.get("type") != "create_entry":
            raise DemoError(f"the options flow refused the demo's options: {result}")
        return []

    async def _json(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Any:
        headers = self._headers if auth else {}
        async with self._session.request(
            method, f"{self.base_url}{path}", headers=headers, **kwargs
        ) as response:
            if response.status >= 400:
                raise DemoError(
                    f"Home Assistant answered {response.status} to {method} {path}: "
                    f"{(await response.text())[:500]}"
                )
            return await response.json()
