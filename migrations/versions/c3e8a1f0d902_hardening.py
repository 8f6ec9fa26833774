"""hardening: event log by arrival time, instructors' auth version

Revision ID: c3e8a1f0d902
Revises: b7c2d4e6f801
Create Date: 2026-12-06 14:00:00

Health and retention read the event log by ``received_at``: without an index
both scanned the whole log. ``auth_version`` is part of the session's user id, so
bumping it (password change, sign-out) ends every session and remember cookie.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c3e8a1f0d902'
down_revision = 'b7c2d4e6f801'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_received_at', ['received_at'], unique=False)
    with op.batch_alter_table('instructors', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('auth_version', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade():
    with op.batch_alter_table('instructors', schema=None) as batch_op:
        batch_op.drop_column('auth_version')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_received_at')
