-- The event store of sqlite-es 0.5 (same columns and primary key, so its readers work
-- unchanged), extended by the ordered log: a gapless global position assigned inside the
-- single write transaction, the recording instant and the hash chain.
CREATE TABLE events (
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       INTEGER NOT NULL CHECK (sequence >= 0),
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    position       INTEGER NOT NULL CHECK (position > 0),
    recorded_at    TEXT    NOT NULL,
    chain_hash     BLOB    NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;
CREATE UNIQUE INDEX events_position ON events (position);
CREATE INDEX events_aggregate_id ON events (aggregate_id, position);

CREATE TABLE snapshots (
    aggregate_type   TEXT    NOT NULL,
    aggregate_id     TEXT    NOT NULL,
    last_sequence    INTEGER NOT NULL CHECK (last_sequence >= 0),
    current_snapshot INTEGER NOT NULL CHECK (current_snapshot >= 0),
    payload          TEXT    NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
) STRICT;

CREATE TABLE log_head (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    position    INTEGER NOT NULL,
    chain_hash  BLOB    NOT NULL,
    recorded_at TEXT
) STRICT;
INSERT INTO log_head (id, position, chain_hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE commands (
    command_id     TEXT    PRIMARY KEY,
    payload_hash   TEXT    NOT NULL,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    position       INTEGER NOT NULL,
    recorded_at    TEXT    NOT NULL
) STRICT;
