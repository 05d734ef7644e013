-- Command ids are scoped to the actor that sent them (see the PostgreSQL migration 0004).
CREATE TABLE commands_scoped (
    actor          TEXT    NOT NULL,
    command_id     TEXT    NOT NULL,
    payload_hash   TEXT    NOT NULL,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    position       INTEGER NOT NULL,
    recorded_at    TEXT    NOT NULL,
    PRIMARY KEY (actor, command_id)
) STRICT;
INSERT INTO commands_scoped (actor, command_id, payload_hash, aggregate_type, aggregate_id, position, recorded_at)
SELECT coalesce((SELECT json_extract(e.metadata, '$.actor') FROM events e WHERE e.position = c.position), ''),
       c.command_id, c.payload_hash, c.aggregate_type, c.aggregate_id, c.position, c.recorded_at
  FROM commands c;
DROP TABLE commands;
ALTER TABLE commands_scoped RENAME TO commands;

-- Unique names that a stream holds, taken and given up in the append transaction.
CREATE TABLE claims (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    aggregate_id TEXT    NOT NULL,
    position     INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;
INSERT OR IGNORE INTO claims (scope, key, aggregate_id, position)
SELECT 'ssh_key.fingerprint', json_extract(a.payload, '$.SshKeyAdded.fingerprint'), a.aggregate_id, max(a.position)
  FROM events a
 WHERE a.aggregate_type = 'ssh_key' AND a.event_type = 'SshKeyAdded'
   AND NOT EXISTS (SELECT 1 FROM events r WHERE r.aggregate_type = 'ssh_key' AND r.aggregate_id = a.aggregate_id
                     AND r.event_type = 'SshKeyRevoked' AND r.position > a.position)
 GROUP BY 2, 3;
