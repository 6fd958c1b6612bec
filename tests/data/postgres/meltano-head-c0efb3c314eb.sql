-- Meltano's system database schema at alembic head c0efb3c314eb, as its migrations create
-- it on PostgreSQL. Written by replay_meltano_migrations.py (see there); do not edit.

-- b4c05e463b53: job and plugin_settings
CREATE TYPE job_state AS ENUM ('IDLE', 'RUNNING', 'SUCCESS', 'FAIL', 'DEAD');

CREATE TABLE job (
    id SERIAL NOT NULL, 
    job_id VARCHAR, 
    state job_state, 
    started_at TIMESTAMP WITHOUT TIME ZONE, 
    ended_at TIMESTAMP WITHOUT TIME ZONE, 
    payload VARCHAR, 
    payload_flags INTEGER, 
    PRIMARY KEY (id)
);

CREATE TABLE plugin_settings (
    label VARCHAR(255), 
    description TEXT, 
    name VARCHAR(255) NOT NULL, 
    namespace VARCHAR(255), 
    value BYTEA, 
    enabled BOOLEAN, 
    PRIMARY KEY (name, namespace)
);


-- 53e97221d99f: job.run_id
ALTER TABLE job ADD COLUMN run_id UUID;


-- 367228df6a43: job.trigger
ALTER TABLE job ADD COLUMN trigger VARCHAR;


-- d135f52a6f49: job.last_heartbeat_at
ALTER TABLE job ADD COLUMN last_heartbeat_at TIMESTAMP WITHOUT TIME ZONE;


-- 13e8639c6d2b: job.state from the enum to VARCHAR
ALTER TABLE job ALTER COLUMN state TYPE VARCHAR;

DROP TYPE job_state;


-- 5b43800443d1: job -> runs, job_id -> job_name
ALTER TABLE job RENAME job_id TO job_name;

ALTER TABLE job RENAME TO runs;


-- 6828cc5b1a4f: state
CREATE TABLE state (
    state_id VARCHAR(900) NOT NULL, 
    partial_state VARCHAR, 
    completed_state VARCHAR, 
    updated_at TIMESTAMP WITHOUT TIME ZONE, 
    PRIMARY KEY (state_id), 
    UNIQUE (state_id)
);


-- alembic_version, stamped at the head
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

INSERT INTO alembic_version (version_num) VALUES ('c0efb3c314eb');
