"""Baseline: the complete schema of the pre-Alembic runner's version 7, frozen.

Every table today's code created: the runner's (``store.models``), the audit trail's (``audit_log``,
``audit_seal``, ``settings``), the MSSanté outbox and the pilot's tables, which older code made on the
side with ``create_all``. Written out column by column: a later change of a model needs a new revision.

Adoption: for a database made by the old runner (any version 1..7, see :mod:`ecgpilot.store.migrate`),
each table or index that already exists is kept, and only the columns an older runner had not yet added
are added; a fresh database gets everything created.

Revision ID: 0007
Revises: (none: the baseline)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0007"
down_revision = None
branch_labels = None
depends_on = None



def _adopting() -> bool:
    return bool(context.config.attributes.get("ecgpilot_adopt", False))


def _table(name: str, *elements: sa.Column[object] | sa.Constraint) -> None:
    """Create table ``name``; when adopting an old database's existing table, add only its missing columns."""
    insp = sa.inspect(op.get_bind())
    if _adopting() and insp.has_table(name):
        have = {c["name"] for c in insp.get_columns(name)}
        missing = [e for e in elements if isinstance(e, sa.Column) and e.name not in have]
        if missing:
            with op.batch_alter_table(name) as batch:
                for col in missing:
                    batch.add_column(col)
        return
    op.create_table(name, *elements)


def _index(name: str, table: str, columns: list[str], *, unique: bool) -> None:
    """Create index ``name`` (kept as it is when adopting an old database that has it)."""
    if _adopting() and name in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes(table)}:
        return
    op.create_index(name, table, columns, unique=unique)


def upgrade() -> None:
    _table('audit_log',
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('ts', sa.String(length=32), nullable=False),
        sa.Column('actor_id', sa.String(length=128), nullable=False),
        sa.Column('actor_role', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('target', sa.String(length=128), nullable=True),
        sa.Column('input_sha256', sa.String(length=64), nullable=True),
        sa.Column('model_version', sa.String(length=128), nullable=True),
        sa.Column('rules_version', sa.String(length=128), nullable=True),
        sa.Column('outputs_digest', sa.String(length=64), nullable=True),
        sa.Column('details', sa.Text(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('seq')
    )
    _index('ix_audit_log_ts', 'audit_log', ['ts'], unique=False)
    _table('audit_seal',
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('mac', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('seq')
    )
    _table('outbox',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('created_at', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('next_attempt_at', sa.String(length=32), nullable=True),
        sa.Column('sent_at', sa.String(length=32), nullable=True),
        sa.Column('message_id', sa.String(length=255), nullable=False),
        sa.Column('recipients', sa.Text(), nullable=False),
        sa.Column('target', sa.String(length=128), nullable=True),
        sa.Column('message', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    _index('ix_outbox_next_attempt_at', 'outbox', ['next_attempt_at'], unique=False)
    _index('ix_outbox_status', 'outbox', ['status'], unique=False)
    _table('pilot_activity',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('doctor_key', sa.String(length=64), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('n_acts', sa.Integer(), nullable=False),
        sa.Column('ccam_code', sa.String(length=7), nullable=False),
        sa.Column('source_sha256', sa.String(length=64), nullable=False),
        sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('imported_by', sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('doctor_key', 'month', 'ccam_code')
    )
    _index('ix_pilot_activity_doctor_key', 'pilot_activity', ['doctor_key'], unique=False)
    _index('ix_pilot_activity_month', 'pilot_activity', ['month'], unique=False)
    _table('pilot_protocol',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('content_sha256', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seed', sa.Integer(), nullable=True),
        sa.Column('randomised_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('allocation_sha256', sa.String(length=64), nullable=True),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('registered_by', sa.String(length=128), nullable=True),
        sa.Column('registration_sha256', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name')
    )
    _table('practice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('org_id', sa.String(length=40), nullable=True),
        sa.Column('org_id_prefix', sa.String(length=2), nullable=True),
        sa.Column('patient_id_root', sa.String(length=128), nullable=True),
        sa.Column('mssante_address', sa.String(length=254), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name')
    )
    _table('settings',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.String(length=32), nullable=False),
        sa.Column('updated_by', sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint('key')
    )
    _table('pilot_allocation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('protocol_id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('stratum', sa.String(length=100), nullable=False),
        sa.Column('crossover_period', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['practice_id'], ['practice.id'], ),
        sa.ForeignKeyConstraint(['protocol_id'], ['pilot_protocol.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('protocol_id', 'practice_id')
    )
    _index('ix_pilot_allocation_practice_id', 'pilot_allocation', ['practice_id'], unique=False)
    _index('ix_pilot_allocation_protocol_id', 'pilot_allocation', ['protocol_id'], unique=False)
    _table('user_account',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('rpps', sa.String(length=11), nullable=True),
        sa.Column('mssante_address', sa.String(length=254), nullable=True),
        sa.Column('oidc_subject', sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(['practice_id'], ['practice.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('oidc_subject')
    )
    _index('ix_user_account_email', 'user_account', ['email'], unique=True)
    _index('ix_user_account_practice_id', 'user_account', ['practice_id'], unique=False)
    _index('ix_user_oidc_subject', 'user_account', ['oidc_subject'], unique=True)   # made by the old step 2 (duplicate of the UNIQUE; dropped by 0008)
    _table('api_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_sha256')
    )
    _index('ix_api_token_user_id', 'api_token', ['user_id'], unique=False)
    _table('login_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sid_sha256', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('end_reason', sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('sid_sha256')
    )
    _index('ix_login_session_user_id', 'login_session', ['user_id'], unique=False)
    _table('study',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('practice_id', sa.Integer(), nullable=False),
        sa.Column('uploaded_by', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('file_sha256', sa.String(length=64), nullable=False),
        sa.Column('file_name', sa.String(length=255), nullable=False),
        sa.Column('file_names', sa.JSON(), nullable=False),
        sa.Column('file_format', sa.String(length=40), nullable=True),
        sa.Column('recorded_at', sa.DateTime(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('family_name', sa.String(length=200), nullable=True),
        sa.Column('given_names', sa.String(length=200), nullable=True),
        sa.Column('birth_date', sa.Date(), nullable=True),
        sa.Column('sex', sa.String(length=1), nullable=True),
        sa.Column('ins', sa.String(length=15), nullable=True),
        sa.Column('ins_status', sa.String(length=20), nullable=True),
        sa.Column('analysis', sa.JSON(), nullable=True),
        sa.Column('interpretation', sa.JSON(), nullable=True),
        sa.Column('model_version', sa.String(length=200), nullable=True),
        sa.Column('rules_version', sa.String(length=200), nullable=True),
        sa.Column('ai_urgency', sa.String(length=20), nullable=True),
        sa.Column('draft', sa.JSON(), nullable=True),
        sa.Column('age_years', sa.Double(), nullable=True),
        sa.Column('identity_check', sa.JSON(), nullable=True),
        sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('archive_reason', sa.Text(), nullable=True),
        sa.Column('row_version', sa.Integer(), server_default='1', nullable=False),
        sa.ForeignKeyConstraint(['practice_id'], ['practice.id'], ),
        sa.ForeignKeyConstraint(['uploaded_by'], ['user_account.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    _index('ix_study_archived_at', 'study', ['archived_at'], unique=False)
    _index('ix_study_file_sha256', 'study', ['file_sha256'], unique=False)
    _index('ix_study_practice_id', 'study', ['practice_id'], unique=False)
    _index('ix_study_status', 'study', ['status'], unique=False)
    _table('dispatch',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('report_version', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by'], ['user_account.id'], ),
        sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    _index('ix_dispatch_study_id', 'dispatch', ['study_id'], unique=False)
    _table('notification',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    _index('ix_notification_user_id', 'notification', ['user_id'], unique=False)
    _table('opinion_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('requested_by', sa.Integer(), nullable=False),
        sa.Column('cardiologist_id', sa.Integer(), nullable=False),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('statement_opinions', sa.JSON(), nullable=True),
        sa.Column('urgency', sa.String(length=20), nullable=True),
        sa.Column('ai_urgency', sa.String(length=20), nullable=True),
        sa.Column('model_version', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['cardiologist_id'], ['user_account.id'], ),
        sa.ForeignKeyConstraint(['requested_by'], ['user_account.id'], ),
        sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    _index('ix_opinion_request_cardiologist_id', 'opinion_request', ['cardiologist_id'], unique=False)
    _index('ix_opinion_request_status', 'opinion_request', ['status'], unique=False)
    _index('ix_opinion_request_study_id', 'opinion_request', ['study_id'], unique=False)
    _table('pilot_followup',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('entered_by', sa.Integer(), nullable=False),
        sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('referred', sa.Boolean(), nullable=True),
        sa.Column('referral_kind', sa.String(length=20), nullable=True),
        sa.Column('seen_on', sa.Date(), nullable=True),
        sa.Column('emergency', sa.Boolean(), nullable=True),
        sa.Column('hospitalised', sa.Boolean(), nullable=True),
        sa.Column('diagnosis', sa.String(length=30), nullable=True),
        sa.Column('diagnosis_text', sa.Text(), nullable=True),
        sa.Column('new_diagnosis', sa.Boolean(), nullable=True),
        sa.Column('treatment_changed', sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(['entered_by'], ['user_account.id'], ),
        sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    _index('ix_pilot_followup_study_id', 'pilot_followup', ['study_id'], unique=True)
    _table('report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('signed_by', sa.Integer(), nullable=False),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('content_sha256', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['signed_by'], ['user_account.id'], ),
        sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('study_id', 'version')
    )
    _index('ix_report_study_id', 'report', ['study_id'], unique=False)
    _table('study_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('target', sa.String(length=100), nullable=True),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    _index('ix_study_event_study_id', 'study_event', ['study_id'], unique=False)
    _table('report_document',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('lang', sa.String(length=5), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('media_type', sa.String(length=60), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['report.id'], ),
        sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('report_id', 'kind', 'lang')
    )
    _index('ix_report_document_report_id', 'report_document', ['report_id'], unique=False)
    _index('ix_report_document_study_id', 'report_document', ['study_id'], unique=False)


def downgrade() -> None:
    for name in ("report_document", "study_event", "report", "pilot_followup", "opinion_request", "notification",
                 "dispatch", "study", "login_session", "api_token", "user_account", "pilot_allocation", "settings",
                 "practice", "pilot_protocol", "pilot_activity", "outbox", "audit_seal", "audit_log"):
        op.drop_table(name)
