"""Figures for the README: the widget's size, and how soon it is ready after a page load. Run
from the repository root (it starts Chromium as the browser tests do, tests/conftest.py):

    .venv/bin/python -m bench.widget_measure [--loads 20]

Size: web/widget/clinic-chat.js + clinic-chat.css, raw and gzipped (level 6, a common server
default). Timing: Chromium loads the demo page from web/serve.py on loopback, each time in a
fresh context (empty cache); "ready" is the widget's performance mark `clinic-chat:ready`
(launcher shown with its stylesheet), in ms from the start of navigation. "Greeting" is the
time from a click on the launcher to the bot's first message, through the real Rasa server
and action server.
"""
import argparse
import gzip
import statistics
import tempfile
import time
from pathlib import Path
from typing import List

from playwright.sync_api import sync_playwright

from scripts.serve import LOAD_TEST, ROOT, Servers, free_port
from tests.conftest import CHROMIUM, CHROMIUM_FLAGS

FILES = [ROOT / "web" / "widget" / "clinic-chat.js", ROOT / "web" / "widget" / "clinic-chat.css"]


def sizes() -> None:
    total_raw = total_gz = 0
    for path in FILES:
        data = path.read_bytes()
        raw, gz = len(data), len(gzip.compress(data, compresslevel=6, mtime=0))
        total_raw, total_gz = total_raw + raw, total_gz + gz
        print(f"{path.relative_to(ROOT)}: {raw} bytes, {gz} gzipped")
    print(f"widget JS+CSS: {total_raw} bytes, {total_gz} gzipped")


def summary(name: str, values: List[float]) -> None:
    values = sorted(values)
    print(f"{name}: median {statistics.median(values):.0f} ms, "
          f"min {values[0]:.0f}, max {values[-1]:.0f} (n={len(values)})")


def timings(loads: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="widget-measure-"))
    servers = Servers(rasa_port=free_port(), action_port=free_port(), tracker_db=workdir / "t.db",
                      workdir=workdir, log_dir=workdir, web_port=free_port(), **LOAD_TEST)
    try:
        servers.start()
        ready, loaded, greeting = [], [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for _ in range(loads + 1):  # the first load warms Chromium up and is not counted
                context = browser.new_context()
                page = context.new_page()
                page.goto(servers.web_origin + "/", wait_until="load")
                page.locator("#clinic-chat[data-ready]").wait_for()
                mark = page.evaluate(
                    "() => [performance.getEntriesByName('clinic-chat:ready')[0].startTime,"
                    " performance.getEntriesByType('navigation')[0].loadEventEnd]"
                )
                started = time.perf_counter()
                page.locator(".cc-launcher").click()
                page.locator(".cc-bot").first.wait_for()
                greeting.append((time.perf_counter() - started) * 1000)
                ready.append(mark[0])
                loaded.append(mark[1])
                context.close()
            browser.close()
        summary("page load to widget ready", ready[1:])
        summary("page load event (for comparison)", loaded[1:])
        summary("launcher click to greeting shown", greeting[1:])
    finally:
        servers.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    sizes()
    timings(args.loads)


if __name__ == "__main__":
    main()
