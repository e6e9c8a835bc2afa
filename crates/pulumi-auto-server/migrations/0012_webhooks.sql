-- Webhooks and their delivery log. The secret is kept encrypted: a data key of the hook's
-- own, wrapped by the master key, and the secret sealed with it (both base64).

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    payload_url TEXT NOT NULL,
    active BIGINT NOT NULL,
    secret_key TEXT,
    secret TEXT,
    created BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id),
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    ts BIGINT NOT NULL,
    duration BIGINT NOT NULL,
    request_url TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    response_code BIGINT NOT NULL,
    response_headers TEXT NOT NULL,
    response_body TEXT NOT NULL
);

CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, id);
