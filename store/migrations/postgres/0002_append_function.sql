-- The append in one round trip: lock the head, number and chain the events, record the
-- command ids, move the head; answers each event's position, recording instant and hash. Called as a single statement (its own transaction) for a
-- whole group of commits, or inside a savepoint per commit when a group collided.
-- The chain is the one of store/src/chain.rs: sha256(prev ‖ be64(position) ‖ fields),
-- each field as be32(byte length) ‖ UTF-8 bytes; the tests check both agree.
CREATE FUNCTION directory_chain_field(t text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT int4send(octet_length(t)) || convert_to(t, 'UTF8') $$;

CREATE FUNCTION directory_append(
    e_types text[], e_ids text[], e_sequences int8[], e_event_types text[], e_versions text[],
    e_payloads text[], e_metadata text[],
    -- one entry per command id: the 1-based index of the command's last event in e_*
    c_ids text[], c_hashes text[], c_last int4[]
) RETURNS TABLE (event_position int8, event_recorded_at timestamptz, event_chain_hash bytea)
LANGUAGE plpgsql AS $$
DECLARE
    start_position int8;
    pos int8;
    h bytea;
    rec timestamptz;
    ts text;
BEGIN
    SELECT position, chain_hash, recorded_at INTO pos, h, rec FROM log_head WHERE id = 1 FOR UPDATE;
    start_position := pos;
    -- Recorded time strictly increases from one append transaction to the next, so an
    -- instant always cuts the log between transactions.
    rec := greatest(date_trunc('microseconds', clock_timestamp()), coalesce(rec + interval '1 microsecond', '-infinity'::timestamptz));
    ts := to_char(rec AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    IF c_ids IS NOT NULL AND array_length(c_ids, 1) > 0 THEN
        INSERT INTO commands (command_id, payload_hash, aggregate_type, aggregate_id, position, recorded_at)
        SELECT c.id, c.hash, e_types[c.last], e_ids[c.last], start_position + c.last, rec
          FROM unnest(c_ids, c_hashes, c_last) AS c(id, hash, last);
    END IF;
    FOR i IN 1 .. coalesce(array_length(e_types, 1), 0) LOOP
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
