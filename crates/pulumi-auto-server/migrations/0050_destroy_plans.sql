-- The plans of destroy previews waiting for a human's confirmation (the custom API's
-- `destroy-preview`, then `destroy` with the plan id): in the database, so that the
-- confirming request may reach any replica. A plan is the library's `DestroyPlan` as JSON
-- (the preview's steps, secrets blinded by the CLI), taken once.
CREATE TABLE destroy_plans (
    id TEXT PRIMARY KEY,
    program TEXT NOT NULL,
    stack TEXT NOT NULL,
    plan TEXT NOT NULL,
    made BIGINT NOT NULL
);
