"""Matching the ledger's bonuses with the bonus payments an endpoint lists.

Both sides are lists per assignment. Equal pairs cancel; what is left on both
sides pairs up as a wrong amount or a wrong worker; what is left on one side
only was booked and never paid, or paid and never booked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from crowd_bridge.db.models import Action, LedgerEntry
from crowd_bridge.finance.differences import (
    BONUS_AMOUNT,
    BONUS_NOT_BOOKED,
    BONUS_NOT_PAID,
    BONUS_WORKER,
    Difference,
)
from crowd_bridge.finance.render import dollars_text


@dataclass(frozen=True)
class Payment:
    """A bonus payment as the endpoint lists it."""

    assignment_id: str
    worker_id: str
    cents: int | None
    amount_text: str


def read_payments(raw: Iterable[dict[str, Any]]) -> Iterable[Payment]:
    """Payments with their amount in cents; None when it is not whole cents.

    An unreadable amount is kept as text, so it shows up as a difference
    instead of stopping the reconciliation.
    """
    for payment in raw:
        text = str(payment.get("BonusAmount", ""))
        try:
            exact = Decimal(text) * 100
        except InvalidOperation:
            exact = Decimal("NaN")
        whole = exact.is_finite() and exact == exact.to_integral_value()
        cents = int(exact) if whole else None
        yield Payment(
            assignment_id=str(payment.get("AssignmentId", "")),
            worker_id=str(payment.get("WorkerId", "")),
            cents=cents,
            amount_text=text,
        )


def match_bonuses(
    assignment_id: str,
    booked: list[LedgerEntry],
    paid: list[Payment],
    *,
    campaign_id: str,
    hit_id: str | None,
    open_bonus: Action | None,
) -> list[Difference]:
    """Pair booked bonuses with payments; whatever is left over is a difference.

    Exact pairs (same worker and amount) go first, so one wrong bonus among
    several shows up as one difference and not as a cascade.
    """
    left = list(booked)
    unpaired: list[Payment] = []
    for payment in paid:
        match = next(
            (
                entry
                for entry in left
                if entry.amount_cents == payment.cents
                and entry.worker_id == payment.worker_id
            ),
            None,
        )
        if match is None:
            unpaired.append(payment)
        else:
            left.remove(match)

    differences: list[Difference] = []

    # Same assignment, one booked and one paid, but not alike: amount or worker.
    while left and unpaired:
        entry, payment = left.pop(0), unpaired.pop(0)
        common: dict[str, Any] = {
            "campaign_id": campaign_id,
            "hit_id": hit_id,
            "assignment_id": assignment_id,
        }
        if entry.amount_cents != payment.cents:
            differences.append(
                Difference(
                    kind=BONUS_AMOUNT,
                    worker_id=entry.worker_id,
                    ours=dollars_text(entry.amount_cents),
                    theirs=payment.amount_text,
                    explanation="The endpoint paid this bonus with a different "
                    "amount than the ledger books.",
                    **common,
                )
            )
        if entry.worker_id != payment.worker_id:
            differences.append(
                Difference(
                    kind=BONUS_WORKER,
                    worker_id=entry.worker_id,
                    ours=entry.worker_id or "",
                    theirs=payment.worker_id,
                    explanation="The endpoint paid this bonus to a different worker "
                    "than the ledger books.",
                    **common,
                )
            )

    for entry in left:
        differences.append(
            Difference(
                kind=BONUS_NOT_PAID,
                campaign_id=campaign_id,
                hit_id=hit_id,
                assignment_id=assignment_id,
                worker_id=entry.worker_id,
                ours=dollars_text(entry.amount_cents),
                theirs="no payment",
                explanation="The ledger books this bonus but the endpoint lists no "
                "such payment: the worker has not received it.",
            )
        )
    for payment in unpaired:
        explanation = (
            "The endpoint paid this bonus but the ledger has no row for it: money "
            "left the account unrecorded."
        )
        if open_bonus is not None and open_bonus.amount_cents == payment.cents:
            explanation += (
                f" A bonus action for it is still {open_bonus.state}; the next cycle "
                "finds the payment and books it."
            )
        differences.append(
            Difference(
                kind=BONUS_NOT_BOOKED,
                campaign_id=campaign_id,
                hit_id=hit_id,
                assignment_id=assignment_id,
                worker_id=payment.worker_id,
                ours="no ledger row",
                theirs=payment.amount_text,
                explanation=explanation,
            )
        )
    return differences
