-- The phone system rings into the console (CTI): every 112 call the
-- exchange signals (ringing, answered at a position, ended), and the
-- incident it was recorded as. A call ended without being answered is
-- abandoned. Every change tells the servers' call watchers at commit.
CREATE TABLE calls (
    -- The exchange's own id for the call (e.g. Asterisk's UNIQUEID).
    call_id text PRIMARY KEY CHECK (call_id <> ''),
    line text NOT NULL DEFAULT '',
    -- E.164; empty exactly when the network withheld the number (or the
    -- retention period has passed).
    caller_phone text NOT NULL,
    caller_id_withheld boolean NOT NULL DEFAULT false,
    -- The call-taker's position that answered.
    position text NOT NULL DEFAULT '',
    rang_at timestamptz NOT NULL DEFAULT now(),
    answered_at timestamptz,
    ended_at timestamptz,
    incident_id uuid REFERENCES incidents (id),
    linked_at timestamptz,
    CHECK (answered_at IS NULL OR answered_at >= rang_at),
    CHECK (ended_at IS NULL OR ended_at >= rang_at)
);

-- The strip: calls not yet ended; the report and ListCalls: by time rung.
CREATE INDEX calls_open ON calls (rang_at) WHERE ended_at IS NULL;
CREATE INDEX calls_by_time ON calls (rang_at DESC);
CREATE INDEX calls_by_caller ON calls (caller_phone, rang_at DESC) WHERE caller_phone <> '';
CREATE INDEX calls_by_incident ON calls (incident_id) WHERE incident_id IS NOT NULL;

CREATE FUNCTION notify_call_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ngalam112_calls', NEW.call_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER calls_notify AFTER INSERT OR UPDATE ON calls
    FOR EACH ROW EXECUTE FUNCTION notify_call_change();
