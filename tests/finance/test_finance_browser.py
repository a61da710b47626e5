"""The finance page in a real headless Chromium shows the ledger's totals.

Needs Debian's ``chromium`` and ``chromium-driver`` packages and the
``selenium`` Python package; without them the test is skipped and says why.
"""

from __future__ import annotations

import csv
import io
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from finance_ledger import write_known_ledger
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from crowd_bridge.db.models import LedgerEntry
from crowd_bridge.db.session import create_state_engine, migrate, session_scope
from crowd_bridge.finance.report import dollars_text
from crowd_bridge.finance.web import build_finance_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = Path("/tmp/finance_page.png")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver "
        "(apt-get install -y chromium chromium-driver)",
    ),
]
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="needs the selenium package (pip install selenium)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def finance_url(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """The finance app over the known ledger, served by uvicorn on 127.0.0.1."""
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    migrate(engine)
    write_known_ledger(engine)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            build_finance_app(engine),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, name="finance-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "no server"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", engine
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="finance-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_browser_shows_ledger_totals(
    finance_url: tuple[str, Engine], browser: object
) -> None:
    from selenium.webdriver.common.by import By

    url, engine = finance_url
    with session_scope(engine) as session:
        ledger = int(session.exec(select(func.sum(LedgerEntry.amount_cents))).one())
    csv_text = httpx.get(f"{url}/report.csv", trust_env=False).text
    (total,) = [
        r for r in csv.DictReader(io.StringIO(csv_text)) if r["section"] == "total"
    ]

    driver: Any = browser
    driver.get(url + "/")
    shown = driver.find_element(By.ID, "total-paid")

    assert shown.text == dollars_text(ledger) == "$3.10"
    assert (
        int(shown.get_attribute("data-cents"))
        == ledger
        == int(total["total_paid_cents"])
    )
    for table in ("by-campaign", "by-day", "by-worker"):
        foot = driver.find_element(By.CSS_SELECTOR, f"#{table} tfoot td.paid")
        body = driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody td.paid")
        assert foot.text == "$3.10"
        assert sum(int(cell.get_attribute("data-cents")) for cell in body) == ledger
    pending = driver.find_element(By.ID, "total-pending")
    assert pending.text == dollars_text(int(total["pending_cents"])) == "$1.99"
    assert "matches the totals" in driver.find_element(By.ID, "ledger-check").text
    chart = driver.find_element(By.CSS_SELECTOR, "svg polyline.line")
    assert chart.is_displayed()

    # The screenshot covers the whole page, for a person to look at.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 160, 4000))
    assert driver.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
