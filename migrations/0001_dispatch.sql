-- Ngalam 112 dispatch: the whole schema of the engine.
--
-- Enumerations are text columns with CHECK constraints (readable in psql,
-- trivially extended by a later migration). Coordinates are WGS84 degrees in
-- double precision; distances are computed by the application (geo crate).

CREATE TABLE units (
    id                    uuid PRIMARY KEY,
    call_sign             text NOT NULL UNIQUE,
    kind                  text NOT NULL CHECK (kind IN ('ambulance', 'fire_engine', 'police', 'rescue')),
    agency                text NOT NULL,
    status                text NOT NULL CHECK (status IN ('available', 'assigned', 'out_of_service')),
    lat                   double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon                   double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    location_updated_at   timestamptz NOT NULL,
    -- When the unit last became AVAILABLE: ties in distance go to the unit
    -- idle longest (dispatch rule 2).
    available_since       timestamptz NOT NULL,
    current_assignment_id uuid,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- Rule 3: ASSIGNED exactly while an assignment is open.
    CONSTRAINT assigned_units_name_their_assignment
        CHECK ((status = 'assigned') = (current_assignment_id IS NOT NULL))
);

CREATE INDEX units_available_by_kind ON units (kind) WHERE status = 'available';

CREATE TABLE incidents (
    id             uuid PRIMARY KEY,
    status         text NOT NULL CHECK (status IN ('pending', 'dispatched', 'on_scene', 'resolved', 'cancelled')),
    category       text NOT NULL CHECK (category IN ('medical', 'fire', 'traffic_accident', 'crime', 'rescue', 'disaster', 'other')),
    -- 1 = critical … 4 = low, so that ORDER BY priority puts lives first.
    priority       smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
    caller_phone   text NOT NULL,
    caller_name    text NOT NULL,
    lat            double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon            double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    address        text NOT NULL,
    description    text NOT NULL,
    required_kinds text[] NOT NULL CHECK (cardinality(required_kinds) > 0),
    -- Required kinds with neither an open nor a completed assignment; kept
    -- by the store in the same transaction as every assignment change.
    pending_kinds  text[] NOT NULL DEFAULT '{}',
    -- Created with `hold`: never dispatched automatically.
    hold           boolean NOT NULL DEFAULT false,
    -- Rule 6: ON_SCENE once any unit has been on scene.
    ever_on_scene  boolean NOT NULL DEFAULT false,
    caller_count   integer NOT NULL DEFAULT 1 CHECK (caller_count >= 1),
    -- The number of this incident's last timeline event: events are
    -- numbered 1, 2, 3 … per incident with no gaps.
    last_timeline_seq integer NOT NULL DEFAULT 0,
    duplicate_of   uuid REFERENCES incidents (id),
    resolution     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    CONSTRAINT closed_incidents_have_a_close_time
        CHECK ((status IN ('resolved', 'cancelled')) = (resolved_at IS NOT NULL))
);

-- ListIncidents: newest first, keyset paging.
CREATE INDEX incidents_newest_first ON incidents (created_at DESC, id DESC);
-- The pending queue (rule 5): only incidents still waiting for some kind.
CREATE INDEX incidents_waiting ON incidents (priority, created_at)
    WHERE cardinality(pending_kinds) > 0 AND status NOT IN ('resolved', 'cancelled');
CREATE INDEX incidents_active ON incidents (status)
    WHERE status IN ('pending', 'dispatched', 'on_scene');

-- CreateIncident's idempotency keys: a retried request_id returns the
-- incident the first try created or joined (as a duplicate caller).
CREATE TABLE intake_requests (
    request_id  text PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE assignments (
    id          uuid PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    unit_id     uuid NOT NULL REFERENCES units (id),
    unit_kind   text NOT NULL CHECK (unit_kind IN ('ambulance', 'fire_engine', 'police', 'rescue')),
    status      text NOT NULL CHECK (status IN ('offered', 'accepted', 'en_route', 'on_scene', 'completed', 'declined', 'timed_out', 'cancelled')),
    distance_m  double precision NOT NULL CHECK (distance_m >= 0),
    -- clock_timestamp: several offers in one transaction keep their order.
    offered_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- When an unanswered offer times out (rule 4).
    offer_deadline timestamptz
);

-- Rule 3, enforced by PostgreSQL whatever the code or the number of server
-- processes: a unit has at most one open assignment.
CREATE UNIQUE INDEX one_open_assignment_per_unit ON assignments (unit_id)
    WHERE status IN ('offered', 'accepted', 'en_route', 'on_scene');
CREATE INDEX assignments_by_incident ON assignments (incident_id, offered_at);
CREATE INDEX assignments_open_offers ON assignments (offer_deadline) WHERE status = 'offered';

ALTER TABLE units ADD CONSTRAINT units_current_assignment_fk
    FOREIGN KEY (current_assignment_id) REFERENCES assignments (id) DEFERRABLE INITIALLY DEFERRED;

-- The append-only record of everything that happened to an incident.
CREATE TABLE timeline_events (
    seq           bigserial PRIMARY KEY,
    incident_id   uuid NOT NULL REFERENCES incidents (id),
    incident_seq  integer NOT NULL CHECK (incident_seq >= 1),
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind          text NOT NULL,
    actor         text NOT NULL,
    detail        text NOT NULL DEFAULT '',
    assignment_id uuid REFERENCES assignments (id),
    unit_id       uuid REFERENCES units (id)
);

CREATE UNIQUE INDEX timeline_by_incident ON timeline_events (incident_id, incident_seq);

CREATE FUNCTION timeline_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'timeline_events is append-only (% refused)', TG_OP;
END;
$$;

CREATE TRIGGER timeline_events_append_only
    BEFORE UPDATE OR DELETE ON timeline_events
    FOR EACH ROW EXECUTE FUNCTION timeline_is_append_only();
CREATE TRIGGER timeline_events_no_truncate
    BEFORE TRUNCATE ON timeline_events
    FOR EACH STATEMENT EXECUTE FUNCTION timeline_is_append_only();

-- API tokens: only a SHA-256 of the secret is kept.
CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY,
    role        text NOT NULL CHECK (role IN ('admin', 'operator', 'unit')),
    unit_id     uuid REFERENCES units (id),
    secret_hash bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT unit_tokens_name_their_unit CHECK ((role = 'unit') = (unit_id IS NOT NULL))
);
