-- Read-model snapshots: a read model's whole state as of a log position, so that an
-- "as of" answer folds forward from the nearest one instead of from position 0.
CREATE TABLE read_model_snapshots (
    model    text   NOT NULL,
    position bigint NOT NULL,
    state    bytea  NOT NULL,
    PRIMARY KEY (model, position)
);

-- "As recorded at T" is the prefix of the log up to the last event recorded by T.
CREATE INDEX events_recorded_at ON events (recorded_at, position);
