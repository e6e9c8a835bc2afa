-- Teams and their stack permissions (101 read, 102 edit, 103 admin). Plain SQL for SQLite
-- and PostgreSQL alike.

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    created BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
);

CREATE INDEX team_members_by_user ON team_members (user_id);

CREATE TABLE team_stack_permissions (
    team_id TEXT NOT NULL REFERENCES teams (id),
    stack_id TEXT NOT NULL REFERENCES stacks (id),
    permission BIGINT NOT NULL,
    PRIMARY KEY (team_id, stack_id)
);

CREATE INDEX team_stack_permissions_by_stack ON team_stack_permissions (stack_id);
