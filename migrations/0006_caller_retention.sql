-- A caller's personal data has one home, so that it can be redacted when
-- the retention period ends. The further callers of an incident
-- (`duplicate_of`) are rows here; the append-only timeline only says that
-- another caller rang, never who.
CREATE TABLE incident_callers (
    id                 bigserial PRIMARY KEY,
    incident_id        uuid NOT NULL REFERENCES incidents (id),
    caller_phone       text NOT NULL,
    caller_name        text NOT NULL,
    caller_id_withheld boolean NOT NULL,
    added_at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX incident_callers_by_incident ON incident_callers (incident_id, id);

-- Set when the retention job blanked the callers' names and numbers of a
-- closed incident (its own and those of `incident_callers`).
ALTER TABLE incidents ADD COLUMN callers_redacted_at timestamptz;

CREATE INDEX incidents_awaiting_redaction ON incidents (resolved_at)
    WHERE callers_redacted_at IS NULL AND resolved_at IS NOT NULL;
