-- Advanced Mobile Location: the caller's handset tells where it is. The
-- fix is kept beside the location the call-taker entered, never over it.

ALTER TABLE incidents
    ADD COLUMN device_lat            double precision CHECK (device_lat BETWEEN -90 AND 90),
    ADD COLUMN device_lon            double precision CHECK (device_lon BETWEEN -180 AND 180),
    ADD COLUMN device_radius_m       double precision CHECK (device_radius_m > 0),
    ADD COLUMN device_confidence_pct smallint CHECK (device_confidence_pct BETWEEN 1 AND 100),
    ADD COLUMN device_method         text CHECK (device_method IN ('GNSS', 'Wi-Fi', 'cell')),
    ADD COLUMN device_fix_time       timestamptz,
    ADD COLUMN device_received_at    timestamptz,
    -- The fix and the entered location are farther apart than the fix's
    -- radius + 200 m: one of them is wrong, and the dispatcher must know.
    ADD COLUMN location_disagrees    boolean NOT NULL DEFAULT false;

-- Fixes that arrived before the call was recorded, kept (10 minutes) until
-- an incident with the same caller number appears.
CREATE TABLE device_fixes (
    id             bigserial PRIMARY KEY,
    caller_phone   text NOT NULL,
    lat            double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon            double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    radius_m       double precision NOT NULL CHECK (radius_m > 0),
    confidence_pct smallint NOT NULL CHECK (confidence_pct BETWEEN 1 AND 100),
    method         text NOT NULL CHECK (method IN ('GNSS', 'Wi-Fi', 'cell')),
    fix_time       timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX device_fixes_by_phone ON device_fixes (caller_phone, received_at DESC);
CREATE INDEX incidents_by_caller_phone ON incidents (caller_phone, created_at DESC)
    WHERE status IN ('pending', 'dispatched', 'on_scene');

-- The telco's gateway may send fixes, nothing else.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('admin', 'operator', 'unit', 'gateway'));
