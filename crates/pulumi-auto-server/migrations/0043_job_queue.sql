-- The custom API's update, preview and refresh requests wait in `program_jobs` as
-- `queued` rows until a replica claims one (`FOR UPDATE SKIP LOCKED` on PostgreSQL): the
-- request's own parameters go in `request` (JSON), so any replica can run it. A cancel
-- that reaches another replica than the one running the job sets `cancel_requested`
-- (Unix milliseconds), which the running replica reads while it writes the job's events.
ALTER TABLE program_jobs ADD COLUMN request TEXT;
ALTER TABLE program_jobs ADD COLUMN cancel_requested BIGINT;
CREATE INDEX program_jobs_queued ON program_jobs (created) WHERE status = 'queued';
