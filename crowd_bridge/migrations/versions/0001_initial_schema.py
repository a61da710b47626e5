"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("config_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "config_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("budget_cents", sa.Integer(), nullable=False),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "hit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "campaign_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column(
            "request_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "mturk_hit_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("max_assignments", sa.Integer(), nullable=False),
        sa.Column("reward_cents", sa.Integer(), nullable=False),
        sa.Column("reserved_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "sequence"),
        sa.UniqueConstraint("mturk_hit_id"),
        sa.UniqueConstraint("request_token"),
    )
    with op.batch_alter_table("hit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hit_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_hit_status"), ["status"], unique=False)

    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "campaign_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "item_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("fields_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "group_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
        ),
        sa.Column("is_gold", sa.Boolean(), nullable=False),
        sa.Column(
            "gold_label", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "item_id"),
    )
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_item_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "labelsnapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "campaign_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "method", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        ),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column(
            "sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "version"),
    )
    with op.batch_alter_table("labelsnapshot", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_labelsnapshot_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "workerscore",
        sa.Column("campaign_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "worker_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("gold_answers", sa.Integer(), nullable=False),
        sa.Column("gold_correct", sa.Integer(), nullable=False),
        sa.Column("gold_accuracy_mean", sa.Float(), nullable=True),
        sa.Column("gold_accuracy_low", sa.Float(), nullable=True),
        sa.Column("gold_accuracy_high", sa.Float(), nullable=True),
        sa.Column("peer_agreement", sa.Float(), nullable=True),
        sa.Column("model_agreement", sa.Float(), nullable=True),
        sa.Column("seconds_per_item", sa.Float(), nullable=True),
        sa.Column(
            "verdict", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("evidence", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("campaign_id", "worker_id"),
    )
    op.create_table(
        "action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "campaign_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("hit_pk", sa.Integer(), nullable=True),
        sa.Column(
            "assignment_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "worker_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("amount_cents", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column(
            "request_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("evidence", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hit_pk"],
            ["hit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "key"),
    )
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_action_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_action_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_action_state"), ["state"], unique=False)

    op.create_table(
        "assignment",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hit_pk", sa.Integer(), nullable=False),
        sa.Column(
            "campaign_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "worker_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("accept_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submit_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("work_time_seconds", sa.Float(), nullable=True),
        sa.Column("answer_xml", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "decision", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hit_pk"],
            ["hit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignment_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_assignment_hit_pk"), ["hit_pk"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_assignment_worker_id"), ["worker_id"], unique=False
        )

    op.create_table(
        "hititem",
        sa.Column("hit_id", sa.Integer(), nullable=False),
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hit_id"],
            ["hit.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_pk"],
            ["item.id"],
        ),
        sa.PrimaryKeyConstraint("hit_id", "item_pk"),
    )
    op.create_table(
        "answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("item_pk", sa.Integer(), nullable=False),
        sa.Column(
            "campaign_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "worker_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_pk"],
            ["item.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assignment_id", "item_pk"),
    )
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_answer_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_answer_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_answer_item_pk"), ["item_pk"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_answer_worker_id"), ["worker_id"], unique=False
        )

    op.create_table(
        "ledgerentry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "campaign_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("hit_pk", sa.Integer(), nullable=True),
        sa.Column(
            "assignment_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "worker_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["action.id"],
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hit_pk"],
            ["hit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("action_id", "kind"),
    )
    with op.batch_alter_table("ledgerentry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledgerentry_campaign_id"), ["campaign_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ledgerentry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledgerentry_campaign_id"))

    op.drop_table("ledgerentry")
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_worker_id"))
        batch_op.drop_index(batch_op.f("ix_answer_item_pk"))
        batch_op.drop_index(batch_op.f("ix_answer_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_answer_assignment_id"))

    op.drop_table("answer")
    op.drop_table("hititem")
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_worker_id"))
        batch_op.drop_index(batch_op.f("ix_assignment_hit_pk"))
        batch_op.drop_index(batch_op.f("ix_assignment_campaign_id"))

    op.drop_table("assignment")
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_state"))
        batch_op.drop_index(batch_op.f("ix_action_kind"))
        batch_op.drop_index(batch_op.f("ix_action_campaign_id"))

    op.drop_table("action")
    op.drop_table("workerscore")
    with op.batch_alter_table("labelsnapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labelsnapshot_campaign_id"))

    op.drop_table("labelsnapshot")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_campaign_id"))

    op.drop_table("item")
    with op.batch_alter_table("hit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hit_status"))
        batch_op.drop_index(batch_op.f("ix_hit_campaign_id"))

    op.drop_table("hit")
    op.drop_table("campaign")
