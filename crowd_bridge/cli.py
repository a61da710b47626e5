"""The ``crowd-bridge`` command line."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from crowd_bridge.errors import CrowdBridgeError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from crowd_bridge.pipeline.context import CampaignContext

app = typer.Typer(
    help="Run crowd-labelling campaigns over the MTurk Requester API.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
campaign_app = typer.Typer(help="Check, preview and register campaign files.")
endpoint_app = typer.Typer(help="The bundled MTurk-compatible endpoint.")
labels_app = typer.Typer(help="Aggregate answers into labels.")
review_app = typer.Typer(help="Decisions on workers' assignments.")
finance_app = typer.Typer(help="What was paid, what is owed, and checks against it.")
app.add_typer(campaign_app, name="campaign")
app.add_typer(endpoint_app, name="endpoint")
app.add_typer(labels_app, name="labels")
app.add_typer(finance_app, name="finance")
app.add_typer(review_app, name="review")

console = Console()
errors = Console(stderr=True)

Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log every step.")]


def _logging(verbose: bool, *, per_item_lines: bool = True) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=errors, show_path=False)],
        force=True,
    )
    logging.getLogger("crowd_bridge").setLevel(
        logging.DEBUG if verbose else logging.INFO
    )
    for noisy in ("botocore", "urllib3", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A run skipped because the previous one is still going is expected.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    if not (verbose or per_item_lines):
        # A line per HIT, assignment or request belongs in service logs, not
        # in front of a person watching a campaign of thousands of them.
        for chatty in ("crowd_bridge.endpoint", "crowd_bridge.pipeline"):
            logging.getLogger(chatty).setLevel(logging.WARNING)


def _fail(error: CrowdBridgeError) -> None:
    errors.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
    raise typer.Exit(code=2)


@campaign_app.command("validate")
def campaign_validate(file: Path) -> None:
    """Check a campaign file, its items and its gold items; store nothing."""
    from crowd_bridge.campaign import load_campaign
    from crowd_bridge.pipeline.register import plan_hits

    try:
        campaign = load_campaign(file)
        plan = plan_hits(campaign)
        from crowd_bridge.rendering import HitRenderer, RenderedItem

        renderer = HitRenderer(campaign.config)
        by_id = {item.item_id: item for item in campaign.items}
        for item_ids in plan:
            renderer.question([RenderedItem(i, by_id[i].fields) for i in item_ids])
    except CrowdBridgeError as error:
        _fail(error)
    gold = sum(item.gold_label is not None for item in campaign.items)
    console.print(
        f"[green]OK[/] {file}: {len(campaign.items):,} items ({gold:,} gold) in "
        f"{len(plan):,} HITs of {campaign.config.assignments_per_hit} assignments; "
        f"reward ${campaign.reward_cents / 100:.2f} per HIT, budget "
        f"${campaign.budget_cents / 100:,.2f}."
    )


@campaign_app.command("preview")
def campaign_preview(
    file: Path,
    out: Annotated[Path, typer.Option(help="Folder for the HTML pages.")],
    hits: Annotated[int, typer.Option(help="How many HITs to render.")] = 3,
) -> None:
    """Write the first few HITs as the HTML pages workers will see."""
    from crowd_bridge.campaign import load_campaign
    from crowd_bridge.pipeline.register import plan_hits
    from crowd_bridge.rendering import HitRenderer, RenderedItem

    try:
        campaign = load_campaign(file)
        renderer = HitRenderer(campaign.config)
        by_id = {item.item_id: item for item in campaign.items}
        out.mkdir(parents=True, exist_ok=True)
        for number, item_ids in enumerate(plan_hits(campaign)[:hits], start=1):
            items = [RenderedItem(i, by_id[i].fields) for i in item_ids]
            renderer.question(items)
            page = out / f"hit-{number:03d}.html"
            page.write_text(renderer.html(items), encoding="utf-8")
            console.print(f"wrote {page} ({len(items)} items)")
    except CrowdBridgeError as error:
        _fail(error)


@campaign_app.command("register")
def campaign_register(file: Path, verbose: Verbose = False) -> None:
    """Store a campaign and plan its HITs (publishing starts with ``run``)."""
    _logging(verbose)
    from crowd_bridge.campaign import load_campaign
    from crowd_bridge.db.session import create_state_engine, migrate
    from crowd_bridge.pipeline.register import register_campaign
    from crowd_bridge.settings import Settings

    try:
        campaign = load_campaign(file)
        engine = create_state_engine(Settings.from_env().database_url)
        migrate(engine)
        created = register_campaign(engine, campaign)
    except CrowdBridgeError as error:
        _fail(error)
    console.print(
        f"campaign {campaign.name} "
        + ("registered" if created else "was already registered")
    )


@app.command("run")
def run(
    file: Path,
    schedule: Annotated[
        str | None,
        typer.Option(help="Schedule file in schedules/ (default: the campaign's)."),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds.")
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Run a campaign on its APScheduler schedule until it is done."""
    _logging(verbose)
    from crowd_bridge.pipeline.register import register_campaign
    from crowd_bridge.scheduler import CampaignScheduler, load_schedule

    try:
        ctx = _campaign_context(file)
        campaign = ctx.campaign
        register_campaign(ctx.engine, campaign)
        # One cheap call first: wrong keys or a wrong endpoint should stop the
        # run now, not be retried on every pass of every stage.
        balance = ctx.client.account_balance_cents()
        console.print(
            f"campaign {campaign.name}: endpoint reached, available balance "
            f"${balance / 100:,.2f}"
        )
        scheduler = CampaignScheduler(
            ctx, load_schedule(schedule or campaign.config.schedule)
        )
        done = scheduler.run(timeout)
    except CrowdBridgeError as error:
        _fail(error)
    console.print(
        f"campaign {campaign.name} " + ("is done" if done else "is still running")
    )
    if not done:
        raise typer.Exit(code=3)


@app.command("demo")
def demo(
    workdir: Annotated[Path, typer.Option(help="Where state and results go.")] = Path(
        "demo-output"
    ),
    faults: Annotated[
        str | None,
        typer.Option(
            help="Faults for the endpoint, e.g. throttle=0.1,fault=0.02,lost=0.01."
        ),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Run the bundled Abt-Buy campaign end to end and print its summary."""
    _logging(verbose, per_item_lines=False)
    from crowd_bridge.demo import run_demo

    workdir = workdir.resolve()
    # Each demo starts afresh: its state, labels and summary are its own.
    for stale in ("state.db", "state.db-wal", "state.db-shm"):
        (workdir / stale).unlink(missing_ok=True)
    shutil.rmtree(workdir / "training-store", ignore_errors=True)
    try:
        result = run_demo(workdir, faults=faults, progress=lambda m: console.print(m))
    except CrowdBridgeError as error:
        _fail(error)
    _print_summary(result.summary)
    console.print(f"\nsummary: {result.summary_path}")


def _print_summary(summary: dict) -> None:
    counts = summary["counts"]
    money = summary["money_cents"]
    console.print(
        f"\n[bold]{summary['campaign']}[/]: {counts['hits']} HITs, "
        f"{counts['assignments']} assignments, {counts['answers']:,} answers from "
        f"{counts['workers']} workers; {counts['approved']} approved, "
        f"{counts['rejected']} rejected, {counts['blocked']} blocked, "
        f"{counts['bonuses']} bonuses."
    )
    console.print(
        f"Paid ${money['rewards'] / 100:,.2f} rewards + "
        f"${money['bonuses'] / 100:,.2f} bonuses + ${money['fees'] / 100:,.2f} fees "
        f"= ${money['total'] / 100:,.2f} of a "
        f"${money['budget'] / 100:,.2f} budget. Replayed real answers: "
        f"{summary['replayed_answer_share']:.1%}."
    )
    paid = summary["endpoint_paid_cents"]
    if summary["ledger_matches_endpoint"]:
        console.print(
            "The ledger equals the endpoint's own records: "
            f"${paid['total'] / 100:,.2f}."
        )
    else:
        console.print(
            f"[bold red]The ledger (${money['total'] / 100:,.2f}) differs from what "
            f"the endpoint paid (${paid['total'] / 100:,.2f}); run crowd-bridge "
            "finance reconcile.[/]"
        )
    quality = summary.get("quality")
    if quality:
        table = Table(title=f"Quality on {quality['measured_on']}")
        for column in ("method", "accuracy", "precision", "recall", "F1 (match)"):
            table.add_column(column)
        for name, values in quality.items():
            if isinstance(values, dict):
                table.add_row(
                    name,
                    f"{values['accuracy']:.4f}",
                    f"{values['precision']:.4f}",
                    f"{values['recall']:.4f}",
                    f"{values['f1']:.4f}",
                )
        console.print(table)


StateTarget = Annotated[
    str,
    typer.Option(
        "--state", help="The endpoint's state: a SQLite file or a SQLAlchemy URL."
    ),
]


@endpoint_app.command("serve")
def endpoint_serve(
    host: str = "127.0.0.1",
    port: int = 8443,
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="State: a SQLite file or a SQLAlchemy URL (PostgreSQL)."
        ),
    ] = None,
    auth: Annotated[
        str, typer.Option(help="sigv4 (keys from add-requester), or open for trials.")
    ] = "sigv4",
    clock: Annotated[
        str, typer.Option(help="real, or virtual for simulations.")
    ] = "real",
    crowd: Annotated[
        str | None,
        typer.Option(
            help="Simulated crowd: replay:ANSWERS.csv or synthetic:SPEC.yaml."
        ),
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(help="Injected failures, e.g. throttle=0.1,fault=0.02,lost=0.01."),
    ] = None,
    sqs_endpoint_url: Annotated[
        str | None, typer.Option(help="Where SQS notifications go (default: AWS).")
    ] = None,
    sns_endpoint_url: Annotated[
        str | None, typer.Option(help="Where SNS notifications go (default: AWS).")
    ] = None,
    notify_region: str = "us-east-1",
    seed: int = 0,
    verbose: Verbose = False,
) -> None:
    """Serve the MTurk-compatible Requester API."""
    _logging(verbose)
    from crowd_bridge.endpoint.notifications import NotifyConfig
    from crowd_bridge.endpoint.server import EndpointConfig, serve

    if clock not in ("real", "virtual") or auth not in ("sigv4", "open"):
        _fail(CrowdBridgeError("--clock takes real or virtual; --auth sigv4 or open."))
    url_given = state is not None and "://" in state
    config = EndpointConfig(
        clock=clock,  # type: ignore[arg-type]
        crowd=crowd,
        seed=seed,
        state_path=None if url_given else state,
        state_url=state if url_given else None,
        auth=auth,  # type: ignore[arg-type]
        faults=faults,
        notifications=NotifyConfig(
            region=notify_region,
            sqs_endpoint_url=sqs_endpoint_url,
            sns_endpoint_url=sns_endpoint_url,
        ),
    )
    console.print(f"MTurk-compatible endpoint on http://{host}:{port} ({auth})")
    serve(config, host=host, port=port)


@endpoint_app.command("add-requester")
def endpoint_add_requester(name: str, state: StateTarget) -> None:
    """Issue an access key for a requester; the secret is shown only now."""
    from crowd_bridge.endpoint.server import add_requester

    try:
        key_id, secret = add_requester(state, name)
    except CrowdBridgeError as error:
        _fail(error)
    console.print(f"requester {name}")
    console.print(f"aws_access_key_id     = {key_id}")
    console.print(f"aws_secret_access_key = {secret}")
    console.print("Keep the secret now: it is not shown again.")


@endpoint_app.command("fund")
def endpoint_fund(
    access_key_id: str,
    amount: Annotated[str, typer.Option(help="Dollars to add, e.g. 250.00.")],
    state: StateTarget,
) -> None:
    """Add prepaid funds to a requester's balance (endpoint stopped)."""
    from crowd_bridge.endpoint.server import fund_requester
    from crowd_bridge.money import format_dollars, parse_dollars

    try:
        balance = fund_requester(
            state, access_key_id, parse_dollars(amount, field="--amount")
        )
    except CrowdBridgeError as error:
        _fail(error)
    console.print(f"requester {access_key_id}: balance ${format_dollars(balance)}")


@endpoint_app.command("requesters")
def endpoint_requesters(state: StateTarget) -> None:
    """List the requesters an endpoint knows (never their secrets)."""
    from crowd_bridge.endpoint.server import list_requesters

    table = Table("name", "access key id", "created")
    for requester in list_requesters(state):
        table.add_row(
            requester["name"], requester["access_key_id"], str(requester["created"])
        )
    console.print(table)


@labels_app.command("aggregate")
def labels_aggregate(
    answers: Path,
    out: Annotated[
        Path, typer.Option(help="CSV to write: item_id, label, confidence.")
    ],
    items: Annotated[Path | None, typer.Option(help="Items CSV with texts.")] = None,
    text_columns: Annotated[
        str | None, typer.Option(help="Comma-separated text columns of --items.")
    ] = None,
    gold: Annotated[Path | None, typer.Option(help="Gold CSV: item_id, label.")] = None,
    classes: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated class set; answers outside it are refused. "
            "Without it the distinct answers are the classes."
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option(help="refined, dawid-skene, majority, one-coin, mace or glad."),
    ] = "refined",
    workers_out: Annotated[
        Path | None, typer.Option(help="CSV for the worker scores (refined only).")
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Aggregate an answers CSV (item_id, worker_id, answer) into labels."""
    _logging(verbose)
    from crowd_bridge.labels import aggregate_file

    if out.resolve() in {answers.resolve(), *(p.resolve() for p in (items, gold) if p)}:
        _fail(
            CrowdBridgeError(f"--out {out} would overwrite an input; name a new file.")
        )
    columns = [c.strip() for c in text_columns.split(",")] if text_columns else None
    class_list = [c.strip() for c in classes.split(",")] if classes else None
    if method == "refined" and not (items and columns):
        errors.print(
            "No --items and --text-columns: the refined method uses the crowd "
            "alone (Dawid-Skene with gold items)."
        )
    try:
        summary = aggregate_file(
            answers,
            out,
            items_path=items,
            text_columns=columns,
            gold_path=gold,
            method=method,
            classes=class_list,
            workers_out_path=workers_out,
        )
    except CrowdBridgeError as error:
        _fail(error)
    counts = ", ".join(f"{label}: {n:,}" for label, n in summary.label_counts.items())
    console.print(
        f"{summary.n_items:,} items labelled from {summary.n_answers:,} answers by "
        f"{summary.n_workers:,} workers ({summary.n_gold:,} gold) with "
        f"{summary.method} in {summary.seconds:.1f} s."
    )
    console.print(f"Classes {', '.join(summary.classes)}; labels {counts}.")
    console.print(
        f"Mean confidence {summary.mean_confidence:.3f}; "
        f"{summary.low_confidence_items:,} items below 0.8."
    )
    if summary.flagged_workers:
        console.print(f"Workers flagged: {', '.join(summary.flagged_workers)}.")
    console.print(f"Wrote {summary.out_path}")


def _campaign_context(file: Path) -> CampaignContext:
    """A campaign file with the services the environment's settings name."""
    from crowd_bridge.campaign import load_campaign
    from crowd_bridge.mturk.client import MTurkClient
    from crowd_bridge.pipeline.context import CampaignContext, clock_for
    from crowd_bridge.settings import Settings

    campaign = load_campaign(file)
    settings = Settings.from_env(endpoint_url=campaign.config.endpoint_url)
    return CampaignContext(
        campaign,
        _state_engine(),
        MTurkClient(settings),
        settings,
        clock=clock_for(settings),
    )


def _state_engine() -> Engine:
    from crowd_bridge.db.session import create_state_engine, migrate
    from crowd_bridge.settings import Settings

    engine = create_state_engine(Settings.from_env().database_url)
    migrate(engine)
    return engine


Campaign = Annotated[str | None, typer.Option(help="Only this campaign.")]


@finance_app.command("report")
def finance_report_command(
    campaign: Campaign = None,
    date_from: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First day."),
    ] = None,
    date_to: Annotated[
        datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day.")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table or csv.")
    ] = "table",
) -> None:
    """Rewards, fees, bonuses, rejected work and liabilities, from the ledger."""
    from crowd_bridge.finance import finance_report, to_csv, to_table

    if output_format not in ("table", "csv"):
        _fail(CrowdBridgeError(f"--format {output_format!r}: use table or csv."))
    try:
        report = finance_report(
            _state_engine(),
            campaign,
            date_from.date() if date_from else None,
            date_to.date() if date_to else None,
        )
    except CrowdBridgeError as error:
        _fail(error)
    if output_format == "csv":
        typer.echo(to_csv(report), nl=False)
    else:
        console.print(to_table(report))


@finance_app.command("reconcile")
def finance_reconcile(campaign: Campaign = None) -> None:
    """Compare the ledger with what the endpoint says was paid; exit 1 on any gap."""
    from crowd_bridge.finance import reconcile, reconcile_table
    from crowd_bridge.mturk.client import MTurkClient
    from crowd_bridge.settings import Settings

    try:
        report = reconcile(_state_engine(), MTurkClient(Settings.from_env()), campaign)
    except CrowdBridgeError as error:
        _fail(error)
    console.print(reconcile_table(report))
    if not report.consistent:
        raise typer.Exit(code=1)


@finance_app.command("serve")
def finance_serve(host: str = "127.0.0.1", port: int = 8020) -> None:
    """Serve the read-only finance pages."""
    from crowd_bridge.finance.web import serve_finance

    console.print(f"finance pages on http://{host}:{port}")
    serve_finance(_state_engine(), host=host, port=port)


@review_app.command("override")
def review_override(
    file: Path,
    assignment_id: str,
    reason: Annotated[str, typer.Option(help="What the worker reads.")],
    verbose: Verbose = False,
) -> None:
    """Approve and pay a rejected assignment after all (within 30 days)."""
    _logging(verbose)
    from crowd_bridge.pipeline.actions import execute_actions, override_rejection

    try:
        ctx = _campaign_context(file)
        override_rejection(ctx, assignment_id, reason)
        report = execute_actions(ctx)
    except CrowdBridgeError as error:
        _fail(error)
    if report.done.get("override"):
        console.print(f"assignment {assignment_id} approved and paid")
    else:
        console.print(f"override of {assignment_id} recorded; it is retried next run")


@app.command("status")
def status(file: Path) -> None:
    """Show a campaign's HITs, assignments, decisions and spend."""
    from crowd_bridge.campaign import load_campaign
    from crowd_bridge.status import campaign_status

    try:
        report = campaign_status(_state_engine(), load_campaign(file))
    except CrowdBridgeError as error:
        _fail(error)
    console.print_json(json.dumps(report, default=str))


if __name__ == "__main__":
    app()
