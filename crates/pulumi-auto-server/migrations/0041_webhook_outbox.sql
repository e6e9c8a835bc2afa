-- Webhook deliveries waiting to be sent: one row per event and hook, written where the
-- event happens and claimed by any replica with a lease (`lease_until`, Unix
-- milliseconds; a replica that dies while sending leaves a lease that expires and the
-- delivery is sent by another). A delivery is deleted once sent (it is then in
-- `webhook_deliveries`).
CREATE TABLE webhook_outbox (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    claimed_by TEXT
);

CREATE INDEX webhook_outbox_due ON webhook_outbox (lease_until);
