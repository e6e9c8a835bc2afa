-- The stack settings file (`Pulumi.STACK.yaml`: its config, secret values encrypted by the
-- service secrets provider) of each custom API stack, as its last `PUT` left it: every
-- replica writes it into its own stack directory before an operation, so a stack
-- configured through one replica runs the same on any other.
CREATE TABLE program_stack_settings (
    program TEXT NOT NULL,
    stack TEXT NOT NULL,
    body TEXT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (program, stack)
);
