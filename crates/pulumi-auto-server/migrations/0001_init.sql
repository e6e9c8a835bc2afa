-- The schema of pulumi-auto-server. Plain SQL that runs on SQLite and on PostgreSQL alike:
-- TEXT and BIGINT only, times as Unix seconds, JSON documents as TEXT.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    created BIGINT NOT NULL
);

CREATE TABLE org_members (
    org_id TEXT NOT NULL REFERENCES organizations (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

-- Access tokens: only the SHA-256 of the value is kept.
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    hash TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_used BIGINT NOT NULL
);

CREATE TABLE stacks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id),
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    -- JSON object of the stack's tags.
    tags TEXT NOT NULL,
    -- The version of the newest update that may have written state (0: never updated).
    version BIGINT NOT NULL,
    resource_count BIGINT NOT NULL,
    last_update BIGINT,
    -- The update that holds the stack (one update per stack at a time).
    active_update TEXT,
    -- The stack's data key for the service secrets provider, wrapped by the master key.
    data_key TEXT NOT NULL,
    -- The StackConfig JSON the CLI gave at creation, if any.
    config TEXT,
    created BIGINT NOT NULL,
    UNIQUE (org_id, project, name)
);

CREATE TABLE updates (
    id TEXT PRIMARY KEY,
    stack_id TEXT NOT NULL REFERENCES stacks (id),
    -- update | preview | refresh | destroy | import | rename
    kind TEXT NOT NULL,
    -- not started | running | succeeded | failed | cancelled
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    requested_by TEXT NOT NULL,
    program TEXT NOT NULL,
    config TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created BIGINT NOT NULL,
    start_time BIGINT,
    end_time BIGINT,
    -- The SHA-256 of the update's lease token and when the lease expires.
    lease_hash TEXT,
    lease_expires BIGINT,
    resource_changes TEXT,
    resource_count BIGINT
);

CREATE INDEX updates_by_stack ON updates (stack_id, created);

-- The state of a stack after each version (the newest at or below a version is its state).
CREATE TABLE checkpoints (
    stack_id TEXT NOT NULL REFERENCES stacks (id),
    version BIGINT NOT NULL,
    deployment TEXT NOT NULL,
    PRIMARY KEY (stack_id, version)
);

-- Engine events in the order of their sequence numbers.
CREATE TABLE engine_events (
    update_id TEXT NOT NULL REFERENCES updates (id),
    seq BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (update_id, seq)
);

CREATE INDEX updates_by_lease ON updates (lease_hash);

-- Former names of renamed stacks. The service secrets provider's state in a checkpoint names
-- the stack it was made for, and the CLI keeps calling encrypt/decrypt under that name after
-- a rename; those calls (only those) resolve a former name to the stack.
CREATE TABLE stack_aliases (
    org_id TEXT NOT NULL REFERENCES organizations (id),
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    stack_id TEXT NOT NULL REFERENCES stacks (id),
    PRIMARY KEY (org_id, project, name)
);
