"""Finance reports as text: dollars for people, CSV for spreadsheets, rich tables.

Money stays integer cents in every machine-readable column; dollars are only
ever text, written next to the cents they spell out.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from crowd_bridge.finance.report import FinanceReport, FinanceRow


def dollars_text(cents: int) -> str:
    """Cents as a dollar amount for people: ``$1,234.05``, ``-$0.10``."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{part:02d}"


CSV_COLUMNS = (
    "section",
    "key",
    "approved_assignments",
    "rewards_cents",
    "reward_fees_cents",
    "bonuses",
    "bonuses_cents",
    "bonus_fees_cents",
    "fees_cents",
    "total_paid_cents",
    "total_paid_dollars",
    "rejected_assignments",
    "rejected_reward_cents",
    "pending_assignments",
    "pending_bonuses",
    "pending_cents",
    "pending_dollars",
    "work_seconds",
    "hourly_cents",
    "hourly_dollars",
)


def row_dict(row: FinanceRow) -> dict[str, Any]:
    """One row with its derived figures; cents stay integers."""
    hourly = row.hourly_cents
    return {
        "key": row.key,
        "approved_assignments": row.approved_assignments,
        "rewards_cents": row.rewards_cents,
        "reward_fees_cents": row.reward_fees_cents,
        "bonuses": row.bonuses,
        "bonuses_cents": row.bonuses_cents,
        "bonus_fees_cents": row.bonus_fees_cents,
        "fees_cents": row.fees_cents,
        "total_paid_cents": row.total_paid_cents,
        "total_paid_dollars": dollars_text(row.total_paid_cents),
        "rejected_assignments": row.rejected_assignments,
        "rejected_reward_cents": row.rejected_reward_cents,
        "pending_assignments": row.pending_assignments,
        "pending_bonuses": row.pending_bonuses,
        "pending_cents": row.pending_cents,
        "pending_dollars": dollars_text(row.pending_cents),
        "work_seconds": str(row.work_seconds),
        "hourly_cents": hourly,
        "hourly_dollars": dollars_text(hourly) if hourly is not None else "",
    }


def to_csv(report: FinanceReport) -> str:
    """Every row of the report as CSV, one ``section`` column per grouping."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for section, rows in report.sections():
        for row in rows:
            writer.writerow({"section": section, **row_dict(row)})
    return buffer.getvalue()


def to_table(report: FinanceReport) -> Table:
    """The report as one rich table: campaigns, then days, workers and totals."""
    scope = report.campaign or "all campaigns"
    if report.date_from or report.date_to:
        first = report.date_from.isoformat() if report.date_from else "start"
        last = report.date_to.isoformat() if report.date_to else "today"
        scope += f", {first} to {last} (UTC)"
    table = Table(
        title=f"Finance report: {scope}",
        caption=(
            f"Ledger total {dollars_text(report.ledger_total_cents)}; "
            f"generated {report.generated_at:%Y-%m-%d %H:%M:%S} UTC"
        ),
    )
    table.add_column("By")
    table.add_column("Key", overflow="fold")
    for header in ("Approved", "Rewards", "Bonuses", "Fees", "Total paid"):
        table.add_column(header, justify="right")
    for header in ("Rejected", "Not paid", "Pending", "Per hour"):
        table.add_column(header, justify="right")
    for section, rows in report.sections():
        for index, row in enumerate(rows):
            hourly = row.hourly_cents
            table.add_row(
                section if index == 0 else "",
                row.key,
                f"{row.approved_assignments:,}",
                dollars_text(row.rewards_cents),
                dollars_text(row.bonuses_cents),
                dollars_text(row.fees_cents),
                dollars_text(row.total_paid_cents),
                f"{row.rejected_assignments:,}",
                dollars_text(row.rejected_reward_cents),
                dollars_text(row.pending_cents),
                dollars_text(hourly) if hourly is not None else "-",
                end_section=index == len(rows) - 1,
                style="bold" if section == "total" else None,
            )
    return table
