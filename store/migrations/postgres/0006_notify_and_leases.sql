-- Every append moves the one log_head row; its commit tells every listening process (on
-- this primary) where the log now ends, so followers need not poll. NOTIFY is delivered
-- at commit, in commit order, and never for a transaction that rolls back.
CREATE FUNCTION directory_log_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('directory_log', NEW.position::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER log_head_notify AFTER UPDATE ON log_head FOR EACH ROW EXECUTE FUNCTION directory_log_notify();

-- Work that one server process at a time does (a share of the monitors, the billing run,
-- the release decisions), held by the process named `holder` until `expires_at` by the
-- database's clock. `token` grows each time the lease changes hands.
CREATE TABLE leases (
  name        TEXT PRIMARY KEY,
  holder      TEXT NOT NULL,
  token       BIGINT NOT NULL,
  acquired_at TIMESTAMPTZ NOT NULL,
  renewed_at  TIMESTAMPTZ NOT NULL,
  expires_at  TIMESTAMPTZ NOT NULL
);
