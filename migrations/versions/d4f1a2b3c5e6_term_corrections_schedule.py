"""term: remembered matches you can take back, withdrawal, class schedule

Revision ID: d4f1a2b3c5e6
Revises: c3e8a1f0d902
Create Date: 2026-12-06 17:10:00

CONTRACT second edition, §5.7-§5.9:
- ``identity_links``: how a link was learned (``learned_by``), and for manual
  links the meeting and participant of the match that stored it, so undoing
  that match removes every key it remembered. Existing manual links keep
  ``learned_by = 'manual'``; existing learned links are marked ``email`` (the
  step is not recorded for them; email is by far the common one).
- ``students.withdrawn_on``: the local date from which a student is off rosters.
- ``course_slots``: weekly class times; ``meetings`` remember the window their
  attendance was computed over and whether they are a scheduled class, and an
  instructor's choice to count an unscheduled one.
"""
from alembic import op
import sqlalchemy as sa


revision = 'd4f1a2b3c5e6'
down_revision = 'c3e8a1f0d902'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('identity_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('learned_by', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('match_meeting_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('match_participant_id', sa.Integer(), nullable=True))
        batch_op.create_index(
            'ix_identity_links_match_meeting_id', ['match_meeting_id'], unique=False
        )
        batch_op.create_index(
            'ix_identity_links_match_participant_id', ['match_participant_id'], unique=False
        )
        batch_op.create_foreign_key(
            'fk_identity_links_match_meeting_id_meetings',
            'meetings', ['match_meeting_id'], ['id'], ondelete='CASCADE',
        )
        batch_op.create_foreign_key(
            'fk_identity_links_match_participant_id_participants',
            'participants', ['match_participant_id'], ['id'], ondelete='SET NULL',
        )
    op.execute(
        "UPDATE identity_links SET learned_by = CASE source "
        "WHEN 'manual' THEN 'manual' ELSE 'email' END"
    )
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_on', sa.Date(), nullable=True))
    op.create_table(
        'course_slots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('weekday', sa.Integer(), nullable=False),
        sa.Column('start_minute', sa.Integer(), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['courses.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('course_slots', schema=None) as batch_op:
        batch_op.create_index('ix_course_slots_course_id', ['course_id'], unique=False)
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scheduled', sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column('window_start', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('window_end', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('counts_override', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_column('counts_override')
        batch_op.drop_column('window_end')
        batch_op.drop_column('window_start')
        batch_op.drop_column('scheduled')
    with op.batch_alter_table('course_slots', schema=None) as batch_op:
        batch_op.drop_index('ix_course_slots_course_id')
    op.drop_table('course_slots')
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_on')
    with op.batch_alter_table('identity_links', schema=None) as batch_op:
        batch_op.drop_constraint(
            'fk_identity_links_match_participant_id_participants', type_='foreignkey'
        )
        batch_op.drop_constraint(
            'fk_identity_links_match_meeting_id_meetings', type_='foreignkey'
        )
        batch_op.drop_index('ix_identity_links_match_participant_id')
        batch_op.drop_index('ix_identity_links_match_meeting_id')
        batch_op.drop_column('match_participant_id')
        batch_op.drop_column('match_meeting_id')
        batch_op.drop_column('learned_by')
