"""durable jobs, their runs, reconciliation with Zoom's report, webinars


Revision ID: 4375d9a03344
Revises: e5b7c9d1f203
Create Date: 2026-12-06 19:50:56.845681

CONTRACT §6: ``jobs`` (claimed under a lease; ``key`` unique so enqueueing is
idempotent), ``job_runs`` (what each run fetched and changed), ``reconciliations``
(one per meeting: its status and changes), ``report_rows`` (a meeting's report as
fetched, the second source generation reads). ``meetings`` learns its connection,
whether it is a webinar, and whether it was created from a report alone.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4375d9a03344'
down_revision = 'e5b7c9d1f203'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('connection_id', sa.Integer(), nullable=True),
    sa.Column('args', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('deferrals', sa.Integer(), server_default='0', nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_by', sa.String(length=100), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['zoom_connections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index('ix_jobs_due', ['status', 'run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('reconciliations',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('changes', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id')
    )
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('connection_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('fetched', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['zoom_connections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_runs_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_runs_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_runs_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index('ix_job_runs_started_at', ['started_at'], unique=False)

    op.create_table('report_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('join_us', sa.BigInteger(), nullable=False),
    sa.Column('leave_us', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('zoom_user_id', sa.String(length=100), nullable=False),
    sa.Column('registrant_id', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report_rows', schema=None) as batch_op:
        batch_op.create_index('ix_report_rows_meeting', ['meeting_id'], unique=False)

    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connection_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('is_webinar', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('backfilled', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f('ix_meetings_connection_id'), ['connection_id'], unique=False)
        batch_op.create_foreign_key('fk_meetings_connection_id', 'zoom_connections', ['connection_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_constraint('fk_meetings_connection_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_meetings_connection_id'))
        batch_op.drop_column('backfilled')
        batch_op.drop_column('is_webinar')
        batch_op.drop_column('connection_id')

    with op.batch_alter_table('report_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_report_rows_meeting')

    op.drop_table('report_rows')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_started_at')
        batch_op.drop_index(batch_op.f('ix_job_runs_meeting_id'))
        batch_op.drop_index(batch_op.f('ix_job_runs_job_id'))
        batch_op.drop_index(batch_op.f('ix_job_runs_connection_id'))

    op.drop_table('job_runs')
    op.drop_table('reconciliations')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_meeting_id'))
        batch_op.drop_index('ix_jobs_due')
        batch_op.drop_index(batch_op.f('ix_jobs_connection_id'))

    op.drop_table('jobs')
