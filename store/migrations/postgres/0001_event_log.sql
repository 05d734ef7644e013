-- The event store of postgres-es 0.5 (same columns and primary key, so its readers work
-- unchanged), extended by the ordered log: a gapless global position assigned under the
-- log_head row lock, the recording instant and the hash chain.
CREATE TABLE events (
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL CHECK (sequence >= 0),
    event_type     text        NOT NULL,
    event_version  text        NOT NULL,
    payload        json        NOT NULL,
    metadata       json        NOT NULL,
    position       bigint      NOT NULL CHECK (position > 0),
    recorded_at    timestamptz NOT NULL,
    chain_hash     bytea       NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_position ON events (position);
CREATE INDEX events_aggregate_id ON events (aggregate_id, position);

-- Unused in event-store mode (snapshots in cqrs-es 0.5 are unsafe), kept so the schema
-- stays what postgres-es expects.
CREATE TABLE snapshots (
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL CHECK (last_sequence >= 0),
    current_snapshot bigint NOT NULL CHECK (current_snapshot >= 0),
    payload          json   NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- One row: the last position and chain hash. Every append locks it (FOR UPDATE) until
-- commit, so positions are taken in commit order and a reader can never skip an event.
CREATE TABLE log_head (
    id          smallint    PRIMARY KEY CHECK (id = 1),
    position    bigint      NOT NULL,
    chain_hash  bytea       NOT NULL,
    recorded_at timestamptz
);
INSERT INTO log_head (id, position, chain_hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Idempotent commands: a command id is recorded in the transaction that appends its events.
CREATE TABLE commands (
    command_id     text        PRIMARY KEY,
    payload_hash   text        NOT NULL,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    position       bigint      NOT NULL,
    recorded_at    timestamptz NOT NULL
);
