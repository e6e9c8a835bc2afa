-- The audit log: every mutating call and every authentication failure. `id` sorts by time
-- (zero-padded microseconds, then random), so pages follow it. `org_id` is NULL when the
-- call named no organization the server knows (those entries belong to the server's first
-- organization, whose admins operate it).

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    org_id TEXT,
    ts BIGINT NOT NULL,
    source_ip TEXT NOT NULL,
    user_login TEXT NOT NULL,
    user_name TEXT NOT NULL,
    event TEXT NOT NULL,
    description TEXT NOT NULL,
    require_org_admin BIGINT NOT NULL,
    require_stack_admin BIGINT NOT NULL,
    auth_failure BIGINT NOT NULL
);

CREATE INDEX audit_log_by_org ON audit_log (org_id, id);
