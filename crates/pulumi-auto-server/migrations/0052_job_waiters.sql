-- The replica holding the client's request that waits for a job's answer (a burn's): when
-- that replica stops heart-beating nobody is left to answer, and a survivor cancels the job
-- (a queued one at once, a running one through cancel_requested, whose run then tears its
-- ephemeral stack down).
ALTER TABLE program_jobs ADD COLUMN waiter TEXT;
