-- Hand-overs to partner agencies (PLN, PDAM, Dishub, DLH, BPBD, …) and
-- their answers. Status moves forward only (the server checks the order):
-- sent → acknowledged → accepted | rejected; accepted → done.
CREATE TABLE referrals (
    id              uuid PRIMARY KEY,
    incident_id     uuid NOT NULL REFERENCES incidents (id),
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    status          text NOT NULL
        CHECK (status IN ('sent', 'acknowledged', 'accepted', 'rejected', 'done')),
    note            text NOT NULL DEFAULT '',
    answer          text NOT NULL DEFAULT '',
    sent_at         timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- The agency's first answer of any kind (for the time to acknowledge).
    acknowledged_at timestamptz,
    CONSTRAINT answered_referrals_say_when
        CHECK ((status = 'sent') = (acknowledged_at IS NULL))
);

CREATE INDEX referrals_by_agency ON referrals (agency_id, sent_at DESC);
CREATE INDEX referrals_by_incident ON referrals (incident_id, sent_at);
