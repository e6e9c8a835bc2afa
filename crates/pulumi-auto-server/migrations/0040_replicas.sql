-- Several servers (replicas) on one database. Each running server has a row here, made at
-- its start with a random id and renewed every few seconds (`heartbeat`, Unix
-- milliseconds); a job claimed by a replica whose heartbeat is older than the heartbeat
-- timeout (or that has no row) is failed by a survivor and its stack repaired.
CREATE TABLE replicas (
    id TEXT PRIMARY KEY,
    started BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL,
    -- Where it listens, its process id and the programs it serves (JSON): for operators,
    -- and for the warning when replicas serve different programs.
    info TEXT NOT NULL
);

-- At most one unfinished operation per program stack across every replica (burns run on
-- ephemeral stacks of their own): the insert of a second one conflicts, which is the 409.
CREATE UNIQUE INDEX program_jobs_one_active ON program_jobs (program, stack)
    WHERE status IN ('queued', 'running') AND kind <> 'burn';

CREATE INDEX program_jobs_by_claimer ON program_jobs (claimed_by, status);
