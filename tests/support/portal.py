"""What the portal's browser tests share: ``govcloud serve`` as a real process on loopback,
and Debian's headless Chromium driven by selenium."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.components import free_port, need, wait_for


@contextlib.contextmanager
def serving(estate: Path, env: dict[str, str], log_path: Path, timeout: float = 60,
            args: tuple[str, ...] = ()) -> Iterator[str]:
    """``govcloud -C estate serve [ARGS]`` on a free port, once its sign-in page answers;
    its base URL. Stopped afterwards; its output goes to ``log_path``."""
    port = free_port()
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(estate), "serve",
                                 "--port", str(port), *args], env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            def up() -> bool:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login",  # noqa: S310
                                            timeout=2) as r:
                    return r.status == 200

            wait_for("govcloud serve", up, timeout, proc, log_path)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(20)


@contextlib.contextmanager
def chromium(home: Path | None = None, args: tuple[str, ...] = ()) -> Iterator[Any]:
    """A headless Chromium (1280×1600, zh-CN) under selenium, quit afterwards. ``home``: its
    HOME (where it finds the NSS database of the certificates it trusts, .pki/nssdb);
    ``args``: more command-line switches."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = need("chromium", "chromium-browser", component="chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", "--lang=zh-CN", *args):
        options.add_argument(arg)
    env = {**os.environ, "HOME": str(home)} if home else None
    driver = webdriver.Chrome(service=Service(need("chromedriver", component="chromium"),
                                              env=env),
                              options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
