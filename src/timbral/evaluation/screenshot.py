"""Screenshot an HTML page with headless Chromium (to check that a report renders)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from timbral.errors import TimbralError

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def take_screenshot(
    html_path: str | Path, png_path: str | Path, width: int = 1400, height: int = 4000,
    chromium: str | None = None, timeout: float = 120,
) -> Path:
    """Render `html_path` headless and save a `width` x `height` PNG at `png_path`."""
    html_path = Path(html_path).resolve()
    png_path = Path(png_path).resolve()
    if not html_path.is_file():
        raise TimbralError(f"{html_path}: page not found")
    exe = chromium or find_chromium()
    if exe is None:
        raise TimbralError("screenshot: no Chromium found (looked for " + ", ".join(CANDIDATES) + ")")
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="timbral-chromium-") as profile:
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
            f"--screenshot={png_path}", f"--window-size={width},{height}", html_path.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimbralError(f"{html_path}: Chromium took more than {timeout:g} s") from None
    if proc.returncode != 0 or not png_path.is_file():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise TimbralError(f"{html_path}: Chromium screenshot failed ({tail[0]})")
    return png_path
