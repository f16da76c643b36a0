-- The city's CCTV cameras, so a dispatcher can look at a scene: found by
-- great-circle distance from an incident (the same rule as units).
CREATE TABLE cameras (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (name <> ''),
    lat        double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon        double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    -- http, https or rtsp only (checked by the server before it gets here).
    stream_url text NOT NULL CHECK (stream_url ~ '^(https?|rtsp)://'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX cameras_position ON cameras (lat, lon);
