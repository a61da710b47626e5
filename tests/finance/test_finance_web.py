"""The finance web app shows the report's numbers and has no way to write."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from fastapi.testclient import TestClient
from finance_ledger import LedgerWriter
from sqlalchemy.engine import Engine

from crowd_bridge.finance.report import finance_report, to_csv
from crowd_bridge.finance.web import SpendPoint, build_finance_app, spend_svg


def cents_in(html: str, element_id: str) -> int:
    match = re.search(rf'id="{element_id}" data-cents="(\d+)">([^<]+)<', html)
    assert match, element_id
    return int(match.group(1))


def test_page_shows_the_report_totals(ledger_engine: Engine) -> None:
    client = TestClient(build_finance_app(ledger_engine))
    response = client.get("/")

    assert response.status_code == 200
    html = response.text
    assert cents_in(html, "total-paid") == 310
    assert cents_in(html, "total-rewards") == 175
    assert cents_in(html, "total-bonuses") == 60
    assert cents_in(html, "total-fees") == 75
    assert cents_in(html, "total-pending") == 199
    assert 'id="total-paid" data-cents="310">$3.10<' in html
    assert "matches the totals above to the cent" in html
    for table in ("by-campaign", "by-day", "by-worker"):
        assert f'id="{table}"' in html
    assert "<svg" in html and "<polyline" in html
    assert "<script" not in html.lower()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_filters_reach_the_report(ledger_engine: Engine) -> None:
    client = TestClient(build_finance_app(ledger_engine))

    html = client.get("/", params={"campaign": "beta", "from": "2024-03-03"}).text
    assert cents_in(html, "total-paid") == 208
    assert '<option value="beta" selected>' in html
    assert 'href="/report.csv?campaign=beta&amp;from=2024-03-03"' in html

    empty = client.get("/", params={"campaign": "", "from": "", "to": ""})
    assert cents_in(empty.text, "total-paid") == 310


def test_csv_and_json_match_the_report(ledger_engine: Engine) -> None:
    client = TestClient(build_finance_app(ledger_engine))
    report = finance_report(ledger_engine, date_to=date(2024, 3, 2))

    csv_response = client.get("/report.csv", params={"to": "2024-03-02"})
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert csv_response.text == to_csv(report)
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    (total,) = [row for row in rows if row["section"] == "total"]
    assert int(total["total_paid_cents"]) == 60 + 42

    summary = client.get("/api/summary", params={"to": "2024-03-02"}).json()
    assert summary["totals"]["total_paid_cents"] == 102
    assert summary["ledger_cents"] == report.ledger_cents
    assert summary["cumulative_spend"] == [
        {"day": "2024-03-01", "cumulative_cents": 60},
        {"day": "2024-03-02", "cumulative_cents": 102},
    ]
    assert [row["key"] for row in summary["by_worker"]] == ["W1", "W2", "W3"]


def test_no_route_writes(ledger_engine: Engine) -> None:
    app = build_finance_app(ledger_engine)
    client = TestClient(app)

    methods = {m for route in app.routes for m in getattr(route, "methods", set())}
    assert methods <= {"GET", "HEAD"}
    for path in ("/", "/report.csv", "/api/summary"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert client.request(method, path).status_code == 405
    # The interactive docs would load scripts from a CDN, so they are off.
    assert client.get("/docs").status_code == 404


def test_bad_input_is_refused_in_words(ledger_engine: Engine) -> None:
    client = TestClient(build_finance_app(ledger_engine))

    response = client.get("/", params={"from": "March"})
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.text
    response = client.get("/api/summary", params={"campaign": "gamma"})
    assert response.status_code == 400
    assert "no campaign named 'gamma'" in response.text


def test_worker_ids_are_escaped(ledger_engine: Engine) -> None:
    writer = LedgerWriter(ledger_engine)
    writer.assignment(
        "A9", "HA1", "<img src=x onerror=alert(1)>", "Approved", submitted="2024-03-04"
    )
    writer.approve("A9", 25, 5, "2024-03-04T00:00:00")

    html = TestClient(build_finance_app(ledger_engine)).get("/").text
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_spend_chart_rises_and_labels_its_ends() -> None:
    points = [
        SpendPoint(date(2024, 3, 1), 60),
        SpendPoint(date(2024, 3, 2), 102),
        SpendPoint(date(2024, 3, 9), 310),
    ]
    svg = spend_svg(points)

    line = re.search(r'<polyline class="line" points="([^"]+)"', svg)
    assert line
    coords = [tuple(map(float, pair.split(","))) for pair in line.group(1).split()]
    xs, ys = [x for x, _ in coords], [y for _, y in coords]
    assert xs == sorted(xs) and ys == sorted(ys, reverse=True)  # up and right
    assert ">2024-03-01<" in svg and ">2024-03-09<" in svg
    # Ticks in round dollars up to a ceiling at or above the total.
    assert ">$0<" in svg and ">$4<" in svg
    assert "2024-03-09: $3.10" in svg
    assert "Nothing was paid" in spend_svg([])
    assert "<polyline" in spend_svg([SpendPoint(date(2024, 3, 1), 5)])
