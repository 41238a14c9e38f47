-- Communication core: one thread per customer conversation (e-mail, phone, portal), kept
-- per territory like everything customer-facing.
-- seasongate: risk=low duration=5m

CREATE TABLE communication_threads (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    territory        text NOT NULL,
    customer_id      bigint REFERENCES customers (id),
    subject          text NOT NULL,
    channel          text NOT NULL DEFAULT 'email'
                     CHECK (channel IN ('email', 'phone', 'portal')),
    participants     jsonb NOT NULL DEFAULT '[]'::jsonb,
    to_emails        jsonb NOT NULL DEFAULT '[]'::jsonb,
    last_message_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- A session sees the threads of its own territory only (app.territory, set by the
-- application on connect; unset means nothing is visible).
ALTER TABLE communication_threads ENABLE ROW LEVEL SECURITY;
CREATE POLICY communication_threads_territory ON communication_threads
    USING (territory = current_setting('app.territory', true));

-- The inbox: newest threads of a territory first.
CREATE INDEX communication_threads_territory_last_message_idx
    ON communication_threads (territory, last_message_at DESC);
