-- The custom API's operations (jobs): one row per update, preview, refresh, destroy or burn
-- of a served program's stack. The table is also the queue: a job is inserted `queued` and
-- a server claims it with one conditional UPDATE (`claimed_by`), so several servers on one
-- PostgreSQL can later share it.
CREATE TABLE program_jobs (
    id TEXT PRIMARY KEY,
    program TEXT NOT NULL,
    stack TEXT NOT NULL,
    -- update | preview | refresh | destroy | burn
    kind TEXT NOT NULL,
    -- queued | running | succeeded | failed | cancelled | refused
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    -- Times in Unix milliseconds.
    created BIGINT NOT NULL,
    claimed_by TEXT,
    started BIGINT,
    ended BIGINT,
    -- The OpSummary JSON, outputs JSON (secret values masked), error message (redacted).
    summary TEXT,
    outputs TEXT,
    error TEXT
);

CREATE INDEX program_jobs_by_stack ON program_jobs (program, stack, created);
CREATE INDEX program_jobs_by_status ON program_jobs (status);

-- The engine events of each job, by their position (1, 2, …): the SSE stream's ids.
CREATE TABLE program_job_events (
    job_id TEXT NOT NULL REFERENCES program_jobs (id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
