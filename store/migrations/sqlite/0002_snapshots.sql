-- Read-model snapshots: a read model's whole state as of a log position, so that an
-- "as of" answer folds forward from the nearest one instead of from position 0.
CREATE TABLE read_model_snapshots (
    model    TEXT    NOT NULL,
    position INTEGER NOT NULL,
    state    BLOB    NOT NULL,
    PRIMARY KEY (model, position)
) STRICT;

-- "As recorded at T" is the prefix of the log up to the last event recorded by T; the
-- canonical RFC 3339 text (UTC, six fractional digits) sorts as time does.
CREATE INDEX events_recorded_at ON events (recorded_at, position);
