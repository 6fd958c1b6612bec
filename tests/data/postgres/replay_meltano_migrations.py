#!/usr/bin/python3
"""Writes meltano-head-c0efb3c314eb.sql: the DDL that Meltano's alembic migrations produce on
PostgreSQL, from the first (b4c05e463b53) to the head statestore targets (c0efb3c314eb).

Each migration's schema operations (names, types and options as in Meltano's
src/meltano/migrations/versions/*.py, with its dialect helpers: DateTime for datetimes, VARCHAR
without length, the GUID type as PostgreSQL's native UUID, PickleType) are replayed through
alembic's offline ("--sql") mode with SQLAlchemy's PostgreSQL dialect, which is what compiles
them when Meltano migrates a PostgreSQL database. Left out: the UI tables that 6ef30ab7b8e5,
ceb00d7ff3bd and 87d9638f6ac6 create and c0efb3c314eb drops (they leave nothing behind), and the
data back-fills (no rows at creation).

Run with Debian's python3-alembic (1.8.1) and python3-sqlalchemy (1.4.46):
    /usr/bin/python3 tests/data/postgres/replay_meltano_migrations.py \
        > tests/data/postgres/meltano-head-c0efb3c314eb.sql
Nothing runs it at build or test time; the tests read the SQL it wrote.
"""
import enum
import io

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.dialects.postgresql import UUID

out = io.StringIO()
context = MigrationContext.configure(dialect_name="postgresql",
                                     opts={"as_sql": True, "output_buffer": out})
op = Operations(context)


class JobState(enum.Enum):  # the enum of b4c05e463b53, by name
    IDLE = 0
    RUNNING = 1
    SUCCESS = 2
    FAIL = 3
    DEAD = 4


def revision(text):
    out.write("\n-- %s\n" % text)


revision("b4c05e463b53: job and plugin_settings")
op.create_table(
    "job",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.String(None)),
    sa.Column("state", sa.Enum(JobState, name="job_state")),
    sa.Column("started_at", sa.DateTime),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("payload", sa.VARCHAR(None)),
    sa.Column("payload_flags", sa.INTEGER),
)
op.create_table(
    "plugin_settings",
    sa.Column("label", sa.String(255), nullable=True),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("namespace", sa.String(255), nullable=True),
    sa.Column("value", sa.PickleType(), nullable=True),
    sa.Column("enabled", sa.Boolean(), nullable=True),
    sa.PrimaryKeyConstraint("name", "namespace"),
)
revision("53e97221d99f: job.run_id")
op.add_column("job", sa.Column("run_id", UUID()))
revision("367228df6a43: job.trigger")
op.add_column("job", sa.Column("trigger", sa.String(None)))
revision("d135f52a6f49: job.last_heartbeat_at")
op.add_column("job", sa.Column("last_heartbeat_at", sa.DateTime, nullable=True))
revision("13e8639c6d2b: job.state from the enum to VARCHAR")
op.alter_column(table_name="job", column_name="state", type_=sa.types.String(None),
                existing_type=sa.Enum(JobState, name="job_state"), existing_nullable=True)
op.execute("DROP TYPE job_state")
revision("5b43800443d1: job -> runs, job_id -> job_name")
op.alter_column("job", "job_id", new_column_name="job_name")
op.rename_table("job", "runs")
revision("6828cc5b1a4f: state")
op.create_table(
    "state",
    sa.Column("state_id", sa.String(900), nullable=False),
    sa.Column("partial_state", sa.VARCHAR(None)),
    sa.Column("completed_state", sa.VARCHAR(None)),
    sa.Column("updated_at", sa.types.TIMESTAMP),
    sa.PrimaryKeyConstraint("state_id"),
    sa.UniqueConstraint("state_id"),
)
revision("alembic_version, stamped at the head")
context.impl.static_output(
    str(sa.schema.CreateTable(context._version).compile(dialect=context.dialect)).strip() + ";")
context.impl.static_output("INSERT INTO alembic_version (version_num) VALUES ('c0efb3c314eb');")

print("-- Meltano's system database schema at alembic head c0efb3c314eb, as its migrations create")
print("-- it on PostgreSQL. Written by replay_meltano_migrations.py (see there); do not edit.")
print(out.getvalue().rstrip())
