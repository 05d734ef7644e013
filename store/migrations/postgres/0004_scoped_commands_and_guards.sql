-- Command ids are scoped to the actor that sent them: one client can no longer take an id
-- that another (an import script, say) will use later. Existing records take the actor
-- from the metadata of the event they point at.
ALTER TABLE commands ADD COLUMN actor text NOT NULL DEFAULT '';
UPDATE commands c SET actor = coalesce(e.metadata->>'actor', '') FROM events e WHERE e.position = c.position;
ALTER TABLE commands ALTER COLUMN actor DROP DEFAULT;
ALTER TABLE commands DROP CONSTRAINT commands_pkey;
ALTER TABLE commands ADD CONSTRAINT commands_pkey PRIMARY KEY (actor, command_id);

-- Unique names that a stream holds (for example the fingerprint of an active SSH key),
-- taken and given up in the transaction that appends the stream's events, so that an
-- invariant across streams holds without two owners ever sharing a stream.
CREATE TABLE claims (
    scope        text   NOT NULL,
    key          text   NOT NULL,
    aggregate_id text   NOT NULL,
    position     bigint NOT NULL,
    PRIMARY KEY (scope, key)
);
-- Keys added before claims existed: every fingerprint of a key not revoked since.
INSERT INTO claims (scope, key, aggregate_id, position)
SELECT 'ssh_key.fingerprint', a.payload->'SshKeyAdded'->>'fingerprint', a.aggregate_id, max(a.position)
  FROM events a
 WHERE a.aggregate_type = 'ssh_key' AND a.event_type = 'SshKeyAdded'
   AND NOT EXISTS (SELECT 1 FROM events r WHERE r.aggregate_type = 'ssh_key' AND r.aggregate_id = a.aggregate_id
                     AND r.event_type = 'SshKeyRevoked' AND r.position > a.position)
 GROUP BY 2, 3
ON CONFLICT DO NOTHING;

DROP FUNCTION directory_append(text[], text[], int8[], text[], text[], text[], text[], text[], text[], int4[]);

-- As before (0002), plus the actor of each command id and the guards of each commit,
-- applied just before the commit's first event (g_at, its 1-based index in e_*), in order:
-- 'release' gives up a claim the stream holds, 'fresh' refuses an id any stream uses
-- already, 'claim' takes a unique name. A refused guard raises a unique violation on a
-- named constraint, so the writer can tell which commit failed and why.
CREATE FUNCTION directory_append(
    e_types text[], e_ids text[], e_sequences int8[], e_event_types text[], e_versions text[],
    e_payloads text[], e_metadata text[],
    c_actors text[], c_ids text[], c_hashes text[], c_last int4[],
    g_kinds text[], g_scopes text[], g_keys text[], g_ids text[], g_at int4[]
) RETURNS TABLE (event_position int8, event_recorded_at timestamptz, event_chain_hash bytea)
LANGUAGE plpgsql AS $$
DECLARE
    start_position int8;
    pos int8;
    h bytea;
    rec timestamptz;
    ts text;
    gi int4 := 1;
    gn int4 := coalesce(array_length(g_at, 1), 0);
BEGIN
    SELECT position, chain_hash, recorded_at INTO pos, h, rec FROM log_head WHERE id = 1 FOR UPDATE;
    start_position := pos;
    rec := greatest(date_trunc('microseconds', clock_timestamp()), coalesce(rec + interval '1 microsecond', '-infinity'::timestamptz));
    ts := to_char(rec AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    IF c_ids IS NOT NULL AND array_length(c_ids, 1) > 0 THEN
        INSERT INTO commands (actor, command_id, payload_hash, aggregate_type, aggregate_id, position, recorded_at)
        SELECT c.actor, c.id, c.hash, e_types[c.last], e_ids[c.last], start_position + c.last, rec
          FROM unnest(c_actors, c_ids, c_hashes, c_last) AS c(actor, id, hash, last);
    END IF;
    FOR i IN 1 .. coalesce(array_length(e_types, 1), 0) LOOP
        WHILE gi <= gn AND g_at[gi] = i LOOP
            IF g_kinds[gi] = 'release' THEN
                DELETE FROM claims WHERE scope = g_scopes[gi] AND key = g_keys[gi] AND aggregate_id = g_ids[gi];
            ELSIF g_kinds[gi] = 'fresh' THEN
                IF EXISTS (SELECT 1 FROM events WHERE aggregate_id = g_ids[gi]) THEN
                    RAISE EXCEPTION 'id % is already in use', g_ids[gi]
                        USING ERRCODE = 'unique_violation', CONSTRAINT = 'directory_fresh_id';
                END IF;
            ELSE
                INSERT INTO claims (scope, key, aggregate_id, position) VALUES (g_scopes[gi], g_keys[gi], g_ids[gi], pos + 1);
            END IF;
            gi := gi + 1;
        END LOOP;
        pos := pos + 1;
        h := sha256(h || int8send(pos)
            || directory_chain_field(e_types[i]) || directory_chain_field(e_ids[i])
            || directory_chain_field(e_sequences[i]::text) || directory_chain_field(e_event_types[i])
            || directory_chain_field(e_versions[i]) || directory_chain_field(e_payloads[i])
            || directory_chain_field(e_metadata[i]) || directory_chain_field(ts));
        INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata,
                            position, recorded_at, chain_hash)
        VALUES (e_types[i], e_ids[i], e_sequences[i], e_event_types[i], e_versions[i], e_payloads[i]::json,
                e_metadata[i]::json, pos, rec, h);
        event_position := pos;
        event_recorded_at := rec;
        event_chain_hash := h;
        RETURN NEXT;
    END LOOP;
    UPDATE log_head SET position = pos, chain_hash = h, recorded_at = rec WHERE id = 1;
END $$;
