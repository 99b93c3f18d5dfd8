"""A tiny W3C WebDriver client (httpx) for chromedriver + Debian's headless Chromium."""

from __future__ import annotations

import base64
import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--window-size=1400,1000"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not Path(exe).exists() and shutil.which(Path(exe).name) is None:
            return f"{exe} is not installed (apt-get install chromium chromium-driver)"
    return None


class WebDriverError(RuntimeError):
    pass


class Browser:
    """One chromedriver process and one browser session."""

    def __init__(self, profile_dir: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        for _ in range(100):
            try:
                if self.http.get("/status").json()["value"]["ready"]:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM, "args": CHROME_ARGS + [f"--user-data-dir={profile_dir}"]}}}}
        self.sid = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self.http.request(method, path, json=body)
        value = r.json().get("value")
        if r.status_code >= 400:
            raise WebDriverError(f"{method} {path}: {value}")
        return value

    def cmd(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, f"/session/{self.sid}{path}", body)

    def get(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        found = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        if not isinstance(found, dict) or len(found) != 1:
            raise WebDriverError(f"no element {css!r} on {self.url()}: {found}")
        return next(iter(found.values()))

    def find_all(self, css: str) -> list[str]:
        return [next(iter(e.values())) for e in self.cmd("POST", "/elements", {"using": "css selector", "value": css})]

    def type(self, css: str, text: str, clear: bool = True) -> None:
        el = self.find(css)
        if clear:
            self.cmd("POST", f"/element/{el}/clear", {})
        self.cmd("POST", f"/element/{el}/value", {"text": text})

    def click(self, css: str) -> None:
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def text(self, css: str) -> str:
        return self.cmd("GET", f"/element/{self.find(css)}/text")

    def js(self, script: str, *args: Any) -> Any:
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script: str, *args: Any) -> Any:
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)})

    def wait_url(self, pattern: str, timeout: float = 20.0) -> str:
        """Wait until the current URL matches the regular expression ``pattern``."""
        import re

        end = time.monotonic() + timeout
        while True:
            url = self.url()
            if re.search(pattern, url) and self.js("return document.readyState") == "complete":
                return url
            if time.monotonic() > end:
                raise WebDriverError(f"still on {url} after {timeout} s (waiting for {pattern!r})")
            time.sleep(0.1)

    def click_and_wait_new_page(self, css: str, timeout: float = 30.0) -> str:
        """Click ``css`` (a submit button) and wait until another document has replaced this one, then return
        its URL. A form that posts and redirects back to the same URL would otherwise let the next check read
        the old page (seen under load: the INS still as typed)."""
        self.js("window.__ecgpilot_old_page = true;")
        self.click(css)
        end = time.monotonic() + timeout
        while True:
            try:
                if not self.js("return window.__ecgpilot_old_page === true || document.readyState !== 'complete'"):
                    return self.url()
            except WebDriverError:   # the old document went away while the script ran: ask again
                pass
            if time.monotonic() > end:
                raise WebDriverError(f"no new page {timeout} s after clicking {css}")
            time.sleep(0.05)

    def url(self) -> str:
        return self.cmd("GET", "/url")

    def screenshot(self, path: Path) -> bytes:
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        path.write_bytes(png)
        return png

    def quit(self) -> None:
        try:
            self.cmd("DELETE", "")
        finally:
            self.proc.terminate()
            self.proc.wait(10)
            self.http.close()
