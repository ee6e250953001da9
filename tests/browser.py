"""Headless Chromium (Debian's `chromium` package) driven over the DevTools protocol: load a
page, list every request the page made, take a screenshot, measure an element.

Only the page's own requests are counted (the Network domain of its target), not Chromium's
background traffic (component updates and the like, which flags do not fully silence).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageLoad:
    requests: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    boxes: dict[str, dict[str, float]] = field(default_factory=dict)


class _Session:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {method} within {timeout} s")
            try:
                self.events.append(json.loads(self.ws.recv(timeout=remaining)))
            except TimeoutError:
                continue

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=remaining)))
            except TimeoutError:
                return


def load(url: str, *, width: int = 1280, height: int = 1000,
         measure: tuple[str, ...] = ()) -> PageLoad:
    """Open ``url``, wait for load (and 1 s more), return its requests, a full-page PNG and
    the bounding boxes of the first element matching each CSS selector in ``measure``."""
    from websockets.sync.client import connect

    binary = chromium_binary()
    assert binary, "chromium not installed"
    profile = tempfile.mkdtemp(prefix="llmbench-chromium-")
    proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = None
        deadline = time.monotonic() + 60
        while endpoint is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {proc.returncode}")
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            endpoint = found.group(1) if found else None
        assert endpoint, "chromium did not print its DevTools endpoint"
        with connect(endpoint, max_size=64 * 2**20, open_timeout=30) as ws:
            cdp = _Session(ws)
            target = cdp.call("Target.createTarget", url="about:blank")["targetId"]
            session = cdp.call("Target.attachToTarget", targetId=target, flatten=True)[
                "sessionId"]
            cdp.call("Network.enable", session)
            cdp.call("Page.enable", session)
            cdp.call("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                     deviceScaleFactor=1, mobile=False)
            cdp.call("Page.navigate", session, url=url)
            cdp.wait_for("Page.loadEventFired")
            cdp.drain(1.0)
            result = PageLoad()
            result.requests = [e["params"]["request"]["url"] for e in cdp.events
                               if e.get("method") == "Network.requestWillBeSent"
                               and e.get("sessionId") == session]
            for selector in measure:
                found = cdp.call("Runtime.evaluate", session, returnByValue=True, expression=(
                    f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                    f"if (!e) return null; const r = e.getBoundingClientRect(); "
                    f"return {{x: r.x + scrollX, y: r.y + scrollY, width: r.width, "
                    f"height: r.height}}; }})()"))["result"].get("value")
                if found:
                    result.boxes[selector] = found
            shot = cdp.call("Page.captureScreenshot", session, format="png",
                            captureBeyondViewport=True)
            result.screenshot = base64.b64decode(shot["data"])
            cdp.call("Browser.close")
        return result
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def save(load_result: PageLoad, path: Path) -> Path:
    path.write_bytes(load_result.screenshot)
    return path
