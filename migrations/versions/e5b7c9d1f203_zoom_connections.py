"""zoom connections: several Zoom apps, each with its own webhook URL

Revision ID: e5b7c9d1f203
Revises: d4f1a2b3c5e6
Create Date: 2026-12-06 18:20:00

CONTRACT second edition, §6: ``zoom_connections`` holds each Zoom app's name,
account, webhook key (the last segment of its URL), secret tokens and OAuth
client secret (both Fernet tokens: encrypted by the app, plain text here), and
its health. ``webhook_events.connection_id`` records which URL received each
event (NULL: the environment's ``/api/zoom/webhook``, or a deleted connection).
"""
from alembic import op
import sqlalchemy as sa


revision = 'e5b7c9d1f203'
down_revision = 'd4f1a2b3c5e6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'zoom_connections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('account_id', sa.String(length=100), nullable=False),
        sa.Column('webhook_key', sa.String(length=64), nullable=False),
        sa.Column('webhook_secrets', sa.Text(), nullable=False),
        sa.Column('client_id', sa.String(length=100), nullable=True),
        sa.Column('client_secret', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_reconcile_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
        sa.UniqueConstraint('webhook_key'),
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connection_id', sa.Integer(), nullable=True))
        batch_op.create_index(
            'ix_webhook_events_connection_id', ['connection_id'], unique=False
        )
        batch_op.create_foreign_key(
            'fk_webhook_events_connection_id_zoom_connections',
            'zoom_connections', ['connection_id'], ['id'], ondelete='SET NULL',
        )


def downgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_constraint(
            'fk_webhook_events_connection_id_zoom_connections', type_='foreignkey'
        )
        batch_op.drop_index('ix_webhook_events_connection_id')
        batch_op.drop_column('connection_id')
    op.drop_table('zoom_connections')
