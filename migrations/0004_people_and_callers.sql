-- People and callers: named logins with sessions, the partner agencies a
-- user may be bound to, withheld caller numbers, resolution codes, and
-- flags on callers' numbers.

-- Partner agencies (PLN, PDAM, Dishub, …). A user or token of role
-- `agency` speaks for exactly one of them.
CREATE TABLE agencies (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    short_name text NOT NULL UNIQUE,
    contact    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- People who log in with a password. Only an argon2id hash (PHC string)
-- of the password is kept.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    display_name  text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'unit', 'gateway', 'agency')),
    unit_id       uuid REFERENCES units (id),
    agency_id     uuid REFERENCES agencies (id),
    password_hash text NOT NULL,
    -- Set: the user cannot log in and every session of theirs is dead.
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT unit_users_name_their_unit CHECK ((role = 'unit') = (unit_id IS NOT NULL)),
    CONSTRAINT agency_users_name_their_agency CHECK ((role = 'agency') = (agency_id IS NOT NULL))
);

-- A session is a token that belongs to a user and expires. Checking a
-- token joins its user, so disabling a user ends every session at once on
-- every server process.
ALTER TABLE api_tokens
    ADD COLUMN user_id    uuid REFERENCES users (id),
    ADD COLUMN agency_id  uuid REFERENCES agencies (id),
    ADD COLUMN expires_at timestamptz;
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('admin', 'operator', 'unit', 'gateway', 'agency'));
ALTER TABLE api_tokens ADD CONSTRAINT agency_tokens_name_their_agency
    CHECK ((role = 'agency') = (agency_id IS NOT NULL));
ALTER TABLE api_tokens ADD CONSTRAINT sessions_expire
    CHECK (user_id IS NULL OR expires_at IS NOT NULL);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id) WHERE user_id IS NOT NULL;

-- Failed logins, counted per username over the last five minutes by every
-- server process (the lockout is not per process).
CREATE TABLE login_failures (
    id       bigserial PRIMARY KEY,
    username text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_by_username ON login_failures (username, at);

-- The network gave no number: `caller_phone` is empty exactly then.
ALTER TABLE incidents
    ADD COLUMN caller_id_withheld boolean NOT NULL DEFAULT false,
    -- The caller's number was flagged when the call came in.
    ADD COLUMN caller_flagged     boolean NOT NULL DEFAULT false,
    ADD COLUMN resolution_code    text CHECK (resolution_code IN
        ('handled', 'transported', 'false_alarm', 'prank', 'referred', 'duplicate', 'other'));
-- Incidents closed before codes existed count as OTHER.
UPDATE incidents SET resolution_code = 'other' WHERE status IN ('resolved', 'cancelled');
ALTER TABLE incidents ADD CONSTRAINT closed_incidents_have_a_resolution_code
    CHECK ((status IN ('resolved', 'cancelled')) = (resolution_code IS NOT NULL));

-- A caller's history: every incident of a number, newest first.
CREATE INDEX incidents_by_caller ON incidents (caller_phone, created_at DESC)
    WHERE caller_phone <> '';

-- Flagged numbers: set by an operator, or automatically after repeated
-- prank calls. A flag only warns; a flagged caller is dispatched as anyone.
CREATE TABLE flagged_callers (
    caller_phone text PRIMARY KEY CHECK (caller_phone <> ''),
    reason       text NOT NULL CHECK (reason <> ''),
    flagged_by   text NOT NULL,
    flagged_at   timestamptz NOT NULL DEFAULT now(),
    automatic    boolean NOT NULL
);
