"""Headless Debian Chromium for the browser tests: find it (or skip), dump a page's DOM, take a screenshot, read
the console log for JavaScript errors, count a screenshot's colours.

Each call gets a fresh profile and no network services; ``--virtual-time-budget`` lets the page's scripts
(vis-network's layout) finish before the DOM or the screenshot is taken.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--enable-logging=stderr", "--v=0")
# a console line of an uncaught exception or a Content-Security-Policy refusal, in any frame
_ERROR = re.compile(r":CONSOLE[^\]]*\]\s*\"(?:Uncaught|Refused to|[^\n]*violates the following Content Security)[^\n]*")
_profiles = itertools.count()


def chromium_or_skip() -> str:
    """The Chromium binary; skip with one reason when it is missing (fail when STYLEKG_REQUIRE_BROWSER=1)."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        from tests.store_fixtures import require_or_skip

        require_or_skip("browser tests need Debian's chromium (apt-get install chromium)", "STYLEKG_REQUIRE_BROWSER")
    return str(path)


def run_chromium(page: Path, workdir: Path, *action: str, window: tuple[int, int] = (1200, 1400),
                 budget_ms: int = 8000) -> subprocess.CompletedProcess:
    """Open ``page`` (a local file) with ``action`` flags (``--dump-dom``, ``--screenshot=...``)."""
    profile = Path(workdir) / f"chromium-profile-{next(_profiles)}"
    flags = [*FLAGS, f"--user-data-dir={profile}", f"--window-size={window[0]},{window[1]}",
             f"--virtual-time-budget={budget_ms}"]
    return subprocess.run([chromium_or_skip(), *flags, *action, Path(page).resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)


def dump_dom(page: Path, workdir: Path, **kwargs) -> tuple[str, list[str]]:
    """The page's rendered DOM (main frame) and the JavaScript errors logged by any of its frames."""
    done = run_chromium(page, workdir, "--dump-dom", **kwargs)
    return done.stdout, page_errors(done.stderr)


def screenshot(page: Path, workdir: Path, **kwargs) -> Path:
    """A PNG screenshot of the page's first ``window`` pixels."""
    out = Path(workdir) / f"shot-{next(_profiles)}.png"
    done = run_chromium(page, workdir, f"--screenshot={out}", **kwargs)
    assert out.exists(), f"chromium wrote no screenshot: {done.stderr[-500:]}"
    return out


def page_errors(log: str) -> list[str]:
    """Uncaught exceptions and CSP refusals in a Chromium ``--enable-logging=stderr`` log."""
    return _ERROR.findall(log)


def colour_counts(png: Path) -> dict[tuple[int, int, int], int]:
    """How many pixels of each RGB colour the image has."""
    from PIL import Image

    return {rgb: n for n, rgb in Image.open(png).convert("RGB").getcolors(maxcolors=1 << 22)}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
