"""Finance views of the ledger: the report, reconciliation and a read-only page.

``finance_report`` totals what was paid, rejected and is still owed;
``reconcile`` checks the ledger and state against the endpoint; ``web`` serves
both as HTML, CSV and JSON without any route that writes.
"""

from crowd_bridge.finance.reconcile import (
    Difference,
    ReconcileReport,
    reconcile,
    reconcile_table,
)
from crowd_bridge.finance.report import (
    FinanceReport,
    FinanceRow,
    dollars_text,
    finance_report,
    to_csv,
    to_table,
)

__all__ = [
    "Difference",
    "FinanceReport",
    "FinanceRow",
    "ReconcileReport",
    "dollars_text",
    "finance_report",
    "reconcile",
    "reconcile_table",
    "to_csv",
    "to_table",
]
