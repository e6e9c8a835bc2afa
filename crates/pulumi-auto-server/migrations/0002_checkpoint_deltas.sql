-- Checkpoint deltas, one row per step: the CLI's text edits (as it sent them, a JSON array)
-- that turn the state of (stack, version) after the previous step into the state after
-- this one, and the SHA-256 (hex) of the result. Appending a small row per step keeps the
-- bytes written linear in the number of steps; the whole text is rebuilt from the
-- checkpoint row of the same version and these rows when it is read, and folded back into
-- that row (the rows deleted) when the update ends. A whole or verbatim checkpoint
-- replaces the row and deletes the version's deltas.
CREATE TABLE checkpoint_deltas (
    stack_id TEXT NOT NULL REFERENCES stacks (id),
    version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    edits TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (stack_id, version, seq)
);
