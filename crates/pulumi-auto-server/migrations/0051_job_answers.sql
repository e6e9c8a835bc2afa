-- A burn's answer (its HTTP status and body, sealed with a data key of its own wrapped by
-- the master key): a burn is queued like the other operations, run by whichever replica
-- claims it, and answered by the replica holding the client's request, which reads it here.
ALTER TABLE program_jobs ADD COLUMN answer TEXT;
