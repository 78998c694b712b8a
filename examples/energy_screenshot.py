"""Render an energy report (JSON from ``snncompile energy --json``) as HTML and screenshot it with headless Chromium.

    python examples/energy_screenshot.py REPORT.json OUT.png [--width 1280] [--height 2400]

Chromium runs with networking blocked (every host name resolves to nothing, a dead proxy), so the picture shows
only what the self-contained page draws by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from snncompile.energy.render_html import render_html

OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def chromium(binary: str, page: Path, *args: str, timeout: float = 60) -> str:
    """Run headless Chromium, offline, on a local file; its standard output (``--dump-dom``)."""
    sandbox = ("--no-sandbox",) if os.geteuid() == 0 else ()
    with tempfile.TemporaryDirectory() as profile:
        cmd = [binary, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run", *sandbox, *OFFLINE,
               f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    return done.stdout


def screenshot(report: dict, out: Path, width: int = 1280, height: int = 2400) -> None:
    binary = find_chromium()
    if binary is None:
        raise SystemExit("no chromium binary found (install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(render_html(report), encoding="utf-8")
        chromium(binary, page, f"--window-size={width},{height}", f"--screenshot={out.resolve()}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args(argv)
    screenshot(json.loads(args.report.read_text()), args.out, args.width, args.height)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
