-- Crews in danger, and unit changes pushed to live maps.

-- The DARURAT button: one open alarm per unit at a time.
CREATE TABLE alarms (
    id              uuid PRIMARY KEY,
    unit_id         uuid NOT NULL REFERENCES units (id),
    lat             double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon             double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    note            text NOT NULL DEFAULT '',
    raised_at       timestamptz NOT NULL DEFAULT now(),
    acknowledged_by text,
    acknowledged_at timestamptz,
    CONSTRAINT acknowledged_alarms_name_who
        CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL))
);
CREATE UNIQUE INDEX one_open_alarm_per_unit ON alarms (unit_id) WHERE acknowledged_at IS NULL;

CREATE FUNCTION notify_alarm_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ngalam112_alarms', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER alarms_notify AFTER INSERT OR UPDATE ON alarms
    FOR EACH ROW EXECUTE FUNCTION notify_alarm_change();

-- Every change of a unit a map shows tells the servers' unit watchers at
-- commit (PostgreSQL folds repeats within a transaction).
CREATE FUNCTION notify_unit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ngalam112_units', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER units_notify AFTER INSERT OR UPDATE OF status, lat, lon, current_assignment_id
    ON units FOR EACH ROW EXECUTE FUNCTION notify_unit_change();
