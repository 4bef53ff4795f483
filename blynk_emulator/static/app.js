// The Blynk emulator's app page: polls the device's snapshot and writes like the app.
// Every value from the server goes in with textContent, never as HTML.
"use strict";

(() => {
  const POLL_MS = 500;
  const RETRY_MS = 1000;
  const STATUS_TEXT = { 1: "off", 2: "idle", 3: "heating", 4: "cooling" };

  const token = new URLSearchParams(window.location.search).get("token");
  const query = token ? `?${new URLSearchParams({ token })}` : "";

  const byId = (id) => document.getElementById(id);
  const app = byId("app");
  const power = byId("power");
  const setInput = byId("set-temperature");
  const setApply = byId("set-temperature-apply");
  const slider = byId("set-temperature-slider");
  const terminalInput = byId("terminal-input");

  let timer = 0;
  let polling = false;
  let pollAgain = false;
  let writes = 0; // bumped when a write starts and ends: older snapshots are dropped
  let sliding = false;
  let shownLines = "";
  let updates = 0;

  function setText(id, text) {
    const element = byId(id);
    const value = text === undefined || text === null ? "" : String(text);
    if (element.textContent !== value) element.textContent = value;
  }

  function isOn(text) {
    const number = Number.parseFloat(text);
    return Number.isFinite(number) && number !== 0;
  }

  function isTrue(text) {
    return text === "1" || text === "true";
  }

  function showError(message) {
    const element = byId("error");
    element.textContent = message;
    element.hidden = !message;
  }

  function render(state) {
    const values = state.values || {};
    const props = state.props || {};

    setText("device-label", state.device);
    const online = byId("value-online");
    online.dataset.online = String(Boolean(state.connected));
    setText("value-online", state.connected ? "online" : "offline");

    setText("value-Power", values["Power"]);
    power.checked = isOn(values["Power"]);

    const target = values["Set Temperature"];
    setText("value-Set-Temperature", target);
    const disabled = isTrue((props["Set Temperature"] || {}).isDisabled);
    byId("set-temperature-card").dataset.disabled = String(disabled);
    byId("set-temperature-disabled").hidden = !disabled;
    setInput.disabled = disabled;
    setApply.disabled = disabled;
    slider.disabled = disabled;
    if (target !== undefined) {
      if (document.activeElement !== setInput) setInput.value = target;
      if (!sliding) slider.value = target;
    }

    const current = values["Current Temperature"];
    setText("value-Current-Temperature", current);
    const meter = byId("current-temperature-meter");
    const reading = Number.parseFloat(current);
    if (Number.isFinite(reading)) meter.value = reading;

    const status = values["Status"];
    setText("value-Status", status);
    setText("status-text", STATUS_TEXT[status] || status || "");
    const color = (props["Status"] || {}).color || "";
    setText("prop-Status-color", color);
    const card = byId("status-card");
    card.dataset.color = color;
    // Only a 6-digit hex colour reaches the style; anything else is shown as text only.
    const css = /^#?[0-9a-fA-F]{6}$/.test(color) ? `#${color.replace("#", "")}` : "";
    card.style.backgroundColor = css;
    byId("status-color").style.backgroundColor = css;

    setText("value-Terminal", values["Terminal"]);
    renderTerminal(state.terminal || []);

    setText("value-messages", state.messages);
    setText("value-app-writes", state.app_writes);
    setText("value-connections", state.connections);

    updates += 1;
    app.dataset.updates = String(updates);
    app.dataset.ready = "true";
  }

  function renderTerminal(lines) {
    const key = JSON.stringify(lines);
    if (key === shownLines) return;
    shownLines = key;
    const list = byId("terminal-lines");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    const items = lines.map((line) => {
      const item = document.createElement("li");
      item.dataset.from = line.from === "app" ? "app" : "device";
      item.textContent = line.text;
      return item;
    });
    list.replaceChildren(...items);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function setLive(live, message) {
    app.dataset.live = String(live);
    setText("link-status", live ? "Live" : `Emulator unreachable (${message}); retrying…`);
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch {
      return {};
    }
  }

  async function refresh() {
    window.clearTimeout(timer);
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = true;
    const seen = writes;
    let delay = POLL_MS;
    try {
      const response = await fetch(`/api/app/state${query}`, { cache: "no-store" });
      const body = await readJson(response);
      if (!response.ok) {
        throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
      }
      if (seen === writes) render(body);
      setLive(true, "");
    } catch (error) {
      setLive(false, error.message);
      delay = RETRY_MS;
    } finally {
      polling = false;
      timer = window.setTimeout(refresh, pollAgain ? 0 : delay);
      pollAgain = false;
    }
  }

  async function write(name, value) {
    writes += 1;
    showError("");
    try {
      const response = await fetch(`/api/app/write${query}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name, value }),
      });
      const body = await readJson(response);
      if (!response.ok) {
        throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
      }
      setText(
        "write-status",
        body.delivered
          ? `${name} = ${body.value} sent to the device`
          : `${name} = ${body.value} stored; the device is not listening`,
      );
      return true;
    } catch (error) {
      showError(`Could not write ${name}: ${error.message}`);
      return false;
    } finally {
      writes += 1;
      refresh();
    }
  }

  power.addEventListener("change", () => {
    write("Power", power.checked ? 1 : 0);
  });

  byId("set-temperature-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!setInput.checkValidity()) {
      showError("Set Temperature is 10 to 30 in steps of 0.5.");
      return;
    }
    write("Set Temperature", Number(setInput.value));
  });

  slider.addEventListener("input", () => {
    sliding = true; // polls leave the knob alone until it is released
  });
  slider.addEventListener("change", async () => {
    await write("Set Temperature", Number(slider.value));
    sliding = false;
  });

  byId("terminal-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const command = terminalInput.value.trim();
    if (!command) return;
    if (await write("Terminal", command)) terminalInput.value = "";
  });

  refresh();
})();
