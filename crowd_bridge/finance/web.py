"""A read-only web view of the ledger for finance: the report, a chart, a CSV.

Every page is rendered on the server from :func:`finance_report`, so the
numbers on screen, in ``/report.csv`` and in ``/api/summary`` are the same
numbers. The app has no route that writes, loads nothing from other hosts and
runs no script in the browser: the chart is SVG drawn here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from html import escape
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from sqlalchemy.engine import Engine
from sqlmodel import select

from crowd_bridge.db.models import Campaign
from crowd_bridge.db.session import session_scope
from crowd_bridge.errors import ConfigError, CrowdBridgeError
from crowd_bridge.finance.report import (
    UNDATED,
    FinanceReport,
    dollars_text,
    finance_report,
    row_dict,
    to_csv,
)
from crowd_bridge.money import FeeSchedule

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Inline styles only; no scripts, frames, fonts or images from anywhere.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class SpendPoint:
    """Cumulative money paid by the end of one UTC day, in cents."""

    day: date
    cumulative_cents: int


def spend_series(report: FinanceReport) -> list[SpendPoint]:
    """Cumulative total paid per day, from the report's by-day rows."""
    points: list[SpendPoint] = []
    running = 0
    for row in report.by_day:
        if row.key == UNDATED:
            continue
        running += row.total_paid_cents
        points.append(SpendPoint(date.fromisoformat(row.key), running))
    return points


def _nice_step(top_cents: int, ticks: int = 4) -> int:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) covering the top."""
    raw = max(1, -(-top_cents // ticks))
    magnitude = 1
    while magnitude * 10 <= raw:
        magnitude *= 10
    for factor in (1, 2, 2.5, 5, 10):
        step = int(factor * magnitude)
        if step >= raw:
            return step
    return 10 * magnitude


def _axis_label(cents: int) -> str:
    return f"${cents // 100:,}" if cents % 100 == 0 else dollars_text(cents)


def spend_svg(points: list[SpendPoint], width: int = 960, height: int = 280) -> str:
    """A line chart of cumulative spend as standalone SVG markup.

    Days without ledger rows are not drawn as zero: the line joins the days
    that have rows, and the total only ever rises, as spend does.
    """
    if not points:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
            f'height="60" viewBox="0 0 {width} 60" aria-label="No spend">'
            '<text x="12" y="34" class="empty">Nothing was paid in this range.'
            "</text></svg>"
        )
    left, right, top, bottom = 72, 20, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    first = points[0].day
    span = max(1, (points[-1].day - first).days)
    step = _nice_step(points[-1].cumulative_cents)
    ceiling = step * max(1, -(-points[-1].cumulative_cents // step))

    def x(day: date) -> float:
        if len(points) == 1:
            return left + plot_w
        return left + plot_w * (day - first).days / span

    def y(cents: int) -> float:
        return top + plot_h - plot_h * cents / ceiling

    final = escape(dollars_text(points[-1].cumulative_cents))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="Cumulative spend, {final} by {points[-1].day.isoformat()}">',
        "<title>Cumulative spend over time</title>",
    ]
    for tick in range(0, ceiling + 1, step):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" '
            f'y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="axis" x="{left - 8}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{escape(_axis_label(tick))}</text>'
        )
    # At most six date labels, evenly spread, so they never overlap.
    last = len(points) - 1
    picks = sorted({round(i * last / 5) for i in range(6)}) if last else [0]
    for index in picks:
        anchor = "middle"
        if index == last:
            anchor = "end"
        elif index == 0:
            anchor = "start"
        parts.append(
            f'<text class="axis" x="{x(points[index].day):.1f}" y="{height - 12}" '
            f'text-anchor="{anchor}">{points[index].day.isoformat()}</text>'
        )
    line = [(x(p.day), y(p.cumulative_cents)) for p in points]
    if len(points) == 1:
        line.insert(0, (left, y(0)))
    coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in line)
    base = f"{line[-1][0]:.1f},{y(0):.1f} {line[0][0]:.1f},{y(0):.1f}"
    parts.append(f'<polygon class="area" points="{coords} {base}"/>')
    parts.append(f'<polyline class="line" points="{coords}"/>')
    for point in points:
        label = f"{point.day.isoformat()}: {dollars_text(point.cumulative_cents)}"
        parts.append(
            f'<circle class="dot" cx="{x(point.day):.1f}" '
            f'cy="{y(point.cumulative_cents):.1f}" r="3.5">'
            f"<title>{escape(label)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _optional_day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ConfigError(
            f"{name}={text!r} is not a day; write it as YYYY-MM-DD."
        ) from error


def build_finance_app(engine: Engine, *, fees: FeeSchedule | None = None) -> FastAPI:
    """The finance web app over ``engine``: GET routes only.

    Routes: ``/`` (the page), ``/report.csv``, ``/api/summary``; each takes the
    optional query parameters ``campaign``, ``from`` and ``to`` (UTC days).
    """
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, keep_trailing_newline=True
    )
    environment.filters["dollars"] = dollars_text
    page = environment.get_template("finance.html.j2")
    # The interactive API docs load scripts from a CDN; this app ships none.
    app = FastAPI(
        title="crowd_bridge finance",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(_SECURITY_HEADERS)
        return response

    @app.exception_handler(CrowdBridgeError)
    async def refuse(_request: Request, error: CrowdBridgeError) -> Response:
        status = 400 if isinstance(error, ConfigError) else 500
        logger.warning("finance page refused a request: %s", error)
        return PlainTextResponse(str(error), status_code=status)

    def build(request: Request) -> FinanceReport:
        params = request.query_params
        return finance_report(
            engine,
            campaign=params.get("campaign") or None,
            date_from=_optional_day(params.get("from"), "from"),
            date_to=_optional_day(params.get("to"), "to"),
            fees=fees,
        )

    @app.get("/", response_class=HTMLResponse)
    def finance_page(request: Request) -> HTMLResponse:
        report = build(request)
        with session_scope(engine) as session:
            campaigns = list(session.exec(select(Campaign.id).order_by(Campaign.id)))
        query = request.url.query
        html = page.render(
            report=report,
            rows={
                "campaign": [row_dict(row) for row in report.by_campaign],
                "day": [row_dict(row) for row in report.by_day],
                "worker": [row_dict(row) for row in report.by_worker],
            },
            totals=row_dict(report.totals),
            chart=Markup(spend_svg(spend_series(report))),
            campaigns=campaigns,
            suffix=f"?{query}" if query else "",
            matches_ledger=report.totals.total_paid_cents == report.ledger_total_cents,
        )
        return HTMLResponse(html)

    @app.get("/report.csv")
    def report_csv(request: Request) -> Response:
        report = build(request)
        name = f"finance-{report.campaign or 'all'}.csv"
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @app.get("/api/summary")
    def summary(request: Request) -> JSONResponse:
        report = build(request)
        body: dict[str, Any] = report.to_dict()
        body["cumulative_spend"] = [
            {"day": p.day.isoformat(), "cumulative_cents": p.cumulative_cents}
            for p in spend_series(report)
        ]
        return JSONResponse(body)

    return app


def serve_finance(
    engine: Engine, host: str = "127.0.0.1", port: int = 8020, **options: Any
) -> None:
    """Serve the finance app until interrupted (``crowd-bridge finance serve``)."""
    logger.info("finance page on http://%s:%d/", host, port)
    uvicorn.run(build_finance_app(engine), host=host, port=port, **options)
