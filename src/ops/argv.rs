//! Which extra arguments an operation accepts: see [`check_extra_args`].

use crate::error::{Error, Result};

/// One flag of a `pulumi` command, as this crate knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagSpec {
    /// The long name, without `--`.
    pub long: &'static str,
    /// The one-letter alias, if any (`-s` for `--stack`).
    pub short: Option<char>,
    /// Whether the flag needs a value: given alone, it takes the next argument (or, in a
    /// short group, the rest of the group). `false` for boolean flags and for flags whose
    /// value is optional (`--refresh[=true]`).
    pub takes_value: bool,
    /// Whether the crate manages it: set by the crate itself, modelled by an option, or
    /// changing which stack, directory, mode or output the command works on. Managed
    /// flags are refused as extra arguments.
    pub managed: bool,
}

const fn m(long: &'static str, short: Option<char>, takes_value: bool) -> FlagSpec {
    FlagSpec {
        long,
        short,
        takes_value,
        managed: true,
    }
}

const fn free(long: &'static str, short: char, takes_value: bool) -> FlagSpec {
    FlagSpec {
        long,
        short: Some(short),
        takes_value,
        managed: false,
    }
}

const V: bool = true;
const B: bool = false;

/// The CLI's global flags (every command has them), and cobra's `--help`.
const GLOBAL: &[FlagSpec] = &[
    m("color", None, V),
    m("cwd", Some('C'), V),
    m("non-interactive", None, B),
    m("logflow", None, B),
    m("logtostderr", None, B),
    m("tracing", None, V),
    m("verbose", Some('v'), V),
    // Prints the help and succeeds without doing anything.
    m("help", Some('h'), B),
    free("emoji", 'e', B),
    free("fully-qualify-stack-names", 'Q', B),
];

/// Flags of every engine operation (up, preview, refresh, import).
const ENGINE: &[FlagSpec] = &[
    m("stack", Some('s'), V),
    m("json", Some('j'), B),
    // Hidden: another output format on stdout.
    m("output", None, V),
    m("event-log", None, V),
    m("exec-kind", None, V),
    m("exec-agent", None, V),
    m("message", Some('m'), V),
    m("parallel", Some('p'), V),
    m("diff", None, B),
    m("debug", Some('d'), B),
    // Another stack's settings file.
    m("config-file", None, V),
];

/// Flags of up, preview and refresh (import has none of them).
const DEPLOY: &[FlagSpec] = &[
    // Hidden: connects to a language host that is already running another program.
    m("client", None, V),
    m("target", Some('t'), V),
    m("target-dependents", None, B),
    m("exclude-dependents", None, B),
    m("expect-no-changes", None, B),
    m("show-replacement-steps", None, B),
    // Runs the operation elsewhere (Pulumi Deployments), without the event log.
    m("remote", None, B),
    // They write the stack's settings file, which the crate serialises, and would put
    // config values on the command line.
    m("config", Some('c'), V),
    m("config-path", None, B),
];

/// `pulumi up`.
const UP: &[FlagSpec] = &[
    m("yes", Some('y'), B),
    m("skip-preview", Some('f'), B),
    m("exclude", None, V),
    m("policy-pack", None, V),
    m("policy-pack-config", None, V),
    m("show-secrets", None, B),
    m("secrets-provider", None, V),
    m("refresh", Some('r'), B),
    m("replace", None, V),
    m("continue-on-error", None, B),
    m("plan", None, V),
];

/// `pulumi preview`.
const PREVIEW: &[FlagSpec] = &[
    m("exclude", Some('x'), V),
    m("policy-pack", None, V),
    m("policy-pack-config", None, V),
    m("show-secrets", None, B),
    m("refresh", Some('r'), B),
    m("replace", None, V),
    m("save-plan", None, V),
];

/// `pulumi refresh`.
const REFRESH: &[FlagSpec] = &[
    m("yes", Some('y'), B),
    m("skip-preview", Some('f'), B),
    m("preview-only", None, B),
    m("exclude", Some('x'), V),
    m("clear-pending-creates", None, B),
    m("skip-pending-creates", None, B),
    m("import-pending-creates", None, V),
    m("run-program", None, B),
];

/// `pulumi import`.
const IMPORT: &[FlagSpec] = &[
    m("yes", Some('y'), B),
    m("skip-preview", None, B),
    m("preview-only", None, B),
    m("file", Some('f'), V),
    m("out", Some('o'), V),
    m("protect", None, B),
    m("generate-code", None, B),
];

/// The commands that accept no extra argument at all.
const NO_EXTRA_ARGS: &[&str] = &["destroy", "stack rm"];

fn parts(command: &str) -> Option<&'static [&'static [FlagSpec]]> {
    Some(match command {
        "up" => &[GLOBAL, ENGINE, DEPLOY, UP],
        "preview" => &[GLOBAL, ENGINE, DEPLOY, PREVIEW],
        "refresh" => &[GLOBAL, ENGINE, DEPLOY, REFRESH],
        "import" => &[GLOBAL, ENGINE, IMPORT],
        _ => return None,
    })
}

/// The flags this crate knows of `pulumi <command>` (`up`, `preview`, `refresh`,
/// `import`), global ones included: every managed flag, and every flag with a one-letter
/// alias (so that a group of short flags can be read as the CLI reads it). `None` for a
/// command that takes no extra arguments.
pub fn managed_flags(command: &str) -> Option<Vec<FlagSpec>> {
    parts(command).map(|p| p.iter().flat_map(|t| t.iter().copied()).collect())
}

fn refuse(arg: &str, reason: impl std::fmt::Display) -> Error {
    Error::invalid("extra argument", format!("{arg:?}: {reason}"))
}

/// Checks the extra arguments of `pulumi <command>`; pure.
///
/// [`CommonOptions::extra_args`](super::CommonOptions::extra_args) passes flags the crate
/// does not model. They must never override a flag the crate manages: `up
/// --stack dev … --stack=prod` would run on `prod` (the CLI takes the last `--stack`), and
/// `--cwd`, `--yes`, `--json` or `--event-log` would change what the crate relies on. So,
/// before anything is spawned, every extra argument is checked against one table per
/// command ([`managed_flags`]), the way the CLI's flag parser (spf13/pflag) reads it:
///
/// - a long flag, `--name` or `--name=value`, is refused when `name` is managed; a known
///   flag that takes a value must carry it with `=` (a separate value would be parsed as
///   a flag or a positional of its own here);
/// - a group of short flags, `-y`, `-ys`, `-sprod`, `-s=prod`, is read as pflag reads it:
///   letter by letter while the letters are flags without a value, up to the first one
///   that takes the rest as its value (or `=`). It is refused when any letter read as a
///   flag is managed, and when a letter is not in the table (its meaning, and so the
///   meaning of the letters after it, is unknown: use the long form);
/// - an argument that is not a flag (a positional: `up` takes a template URL, `import` a
///   resource), `-`, and `--` (it would end the flags) are refused;
/// - `pulumi destroy` and `pulumi stack rm` take no extra arguments at all: what they
///   delete is decided by an approval, and no flag may change it;
/// - any other flag (`--suppress-outputs`) is passed on as given, after every flag the
///   crate sets (the CLI refuses one it does not know).
///
/// A refusal is [`Error::InvalidInput`] naming the argument.
///
/// ```
/// use pulumi_auto::ops::check_extra_args;
/// assert!(check_extra_args("up", &["--suppress-outputs".into()]).is_ok());
/// assert!(check_extra_args("up", &["--stack=prod".into()]).is_err());
/// assert!(check_extra_args("up", &["-ysprod".into()]).is_err()); // -y -s prod
/// assert!(check_extra_args("up", &["prod".into()]).is_err()); // a positional
/// assert!(check_extra_args("destroy", &["--suppress-outputs".into()]).is_err());
/// ```
pub fn check_extra_args(command: &str, args: &[String]) -> Result<()> {
    if NO_EXTRA_ARGS.contains(&command) {
        return match args.first() {
            None => Ok(()),
            Some(a) => Err(refuse(
                a,
                format!(
                    "`pulumi {command}` takes no extra arguments: what it deletes is decided by its approval alone"
                ),
            )),
        };
    }
    let Some(flags) = managed_flags(command) else {
        return Err(Error::invalid(
            "extra argument",
            format!("`pulumi {command}` takes no extra arguments"),
        ));
    };
    for arg in args {
        check_one(command, &flags, arg)?;
    }
    Ok(())
}

fn check_one(command: &str, flags: &[FlagSpec], arg: &str) -> Result<()> {
    if arg.contains('\0') {
        return Err(refuse(arg, "an argument cannot contain a NUL byte"));
    }
    if arg == "--" {
        return Err(refuse(
            arg,
            "`--` would end the flags, turning what follows into positional arguments",
        ));
    }
    if arg.len() < 2 || !arg.starts_with('-') {
        return Err(refuse(
            arg,
            "not a flag: positional arguments are not accepted (they change what the command \
             does); give a flag's value with `=`, as in `--flag=value`",
        ));
    }
    if let Some(long) = arg.strip_prefix("--") {
        let (name, value) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        };
        if let Some(f) = flags.iter().find(|f| f.long == name) {
            if f.managed {
                return Err(refuse(
                    arg,
                    format!("`--{name}` is managed by pulumi-auto for `pulumi {command}`"),
                ));
            }
            if f.takes_value && value.is_none() {
                return Err(refuse(
                    arg,
                    format!("give the value of `--{name}` in the same argument: `--{name}=value`"),
                ));
            }
        }
        return Ok(());
    }
    // A group of short flags, read as pflag reads it.
    let group: Vec<char> = arg[1..].chars().collect();
    let mut i = 0;
    while i < group.len() {
        let c = group[i];
        let Some(f) = flags.iter().find(|f| f.short == Some(c)) else {
            return Err(refuse(
                arg,
                format!(
                    "`-{c}` is not a known short flag of `pulumi {command}`, so the letters after it cannot be read safely; use the long form"
                ),
            ));
        };
        if f.managed {
            return Err(refuse(
                arg,
                format!(
                    "`-{c}` (`--{}`) is managed by pulumi-auto for `pulumi {command}`",
                    f.long
                ),
            ));
        }
        let rest = &group[i + 1..];
        if rest.first() == Some(&'=') {
            return Ok(()); // `-c=value`: the rest is the value.
        }
        if f.takes_value {
            if rest.is_empty() {
                return Err(refuse(
                    arg,
                    format!(
                        "give the value of `-{c}` in the same argument: `-{c}value` or `--{}=value`",
                        f.long
                    ),
                ));
            }
            return Ok(()); // `-cvalue`: the rest is the value.
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cmd: &str, arg: &str) -> Result<()> {
        check_extra_args(cmd, &[arg.to_owned()])
    }

    fn refused(cmd: &str, arg: &str) {
        match check(cmd, arg) {
            Err(Error::InvalidInput { what, reason }) => {
                assert_eq!(what, "extra argument");
                assert!(
                    reason.contains(&format!("{arg:?}")),
                    "the refusal names the argument: {reason}"
                );
            }
            other => panic!("{cmd} {arg:?} was not refused: {other:?}"),
        }
    }

    const COMMANDS: [&str; 4] = ["up", "preview", "refresh", "import"];

    /// A non-managed flag with a one-letter alias and no value, to prefix groups with.
    fn a_free_bool(flags: &[FlagSpec]) -> char {
        flags
            .iter()
            .find(|f| !f.managed && !f.takes_value)
            .and_then(|f| f.short)
            .unwrap()
    }

    #[test]
    fn every_managed_flag_is_refused_in_every_spelling() {
        for cmd in COMMANDS {
            let flags = managed_flags(cmd).unwrap();
            let free = a_free_bool(&flags);
            for f in flags.iter().filter(|f| f.managed) {
                let long = f.long;
                for spelling in [
                    format!("--{long}"),
                    format!("--{long}=prod"),
                    format!("--{long}="),
                    format!("--{long}=--x"),
                ] {
                    refused(cmd, &spelling);
                }
                if let Some(s) = f.short {
                    for spelling in [
                        format!("-{s}"),
                        format!("-{s}prod"),
                        format!("-{s}=prod"),
                        format!("-{s}{s}"),
                        // Behind flags without a value, in one group: `-es`, `-eesprod`.
                        format!("-{free}{s}"),
                        format!("-{free}{free}{s}prod"),
                        format!("-{free}{s}=prod"),
                    ] {
                        refused(cmd, &spelling);
                    }
                    // Behind every other letter read as a flag without a value.
                    for g in flags.iter().filter(|g| !g.takes_value) {
                        if let Some(gs) = g.short {
                            refused(cmd, &format!("-{gs}{s}"));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn flags_the_crate_does_not_manage_pass() {
        for (cmd, arg) in [
            ("up", "--suppress-outputs"),
            ("up", "--suppress-permalink"),
            ("up", "--suppress-permalink=true"),
            ("up", "--attach-debugger=program"),
            ("up", "--target-replace=urn:pulumi:dev::p::t::n"),
            ("up", "-e"),
            ("up", "-eQ"),
            ("up", "-Q"),
            ("preview", "--show-sames"),
            ("preview", "--import-file=/tmp/imports.json"),
            ("refresh", "--suppress-progress"),
            ("import", "--parent=urn:x"),
            // A flag unknown to the crate is passed on; the CLI refuses it if it does not
            // know it either.
            ("up", "--some-future-flag"),
            ("up", "--some-future-flag=-s"),
        ] {
            assert!(check(cmd, arg).is_ok(), "{cmd} {arg}");
        }
    }

    #[test]
    fn the_value_of_a_short_flag_is_not_read_as_flags() {
        // `-c` takes the rest of the group as its value in pflag, `s` included; but `-c`
        // (config) is managed. A free flag taking a value with a short alias does not
        // exist today, so build a table with one to check the reading.
        let flags = [
            free("config-like", 'k', V),
            m("stack", Some('s'), V),
            free("emoji", 'e', B),
        ];
        assert!(check_one("x", &flags, "-ksprod").is_ok()); // -k "sprod"
        assert!(check_one("x", &flags, "-ek=s").is_ok()); // -e, -k "s"
        assert!(check_one("x", &flags, "-eks").is_ok()); // -e, -k "s"
        assert!(check_one("x", &flags, "-es").is_err()); // -e, -s
        assert!(check_one("x", &flags, "-k").is_err()); // its value would be the next arg
        assert!(check_one("x", &flags, "--config-like").is_err());
        assert!(check_one("x", &flags, "--config-like=--stack=prod").is_ok());
        // `-e=...`: pflag takes the rest as the value of -e, however it looks.
        assert!(check_one("x", &flags, "-e=s").is_ok());
    }

    #[test]
    fn unknown_letters_positionals_and_terminators_are_refused() {
        for cmd in COMMANDS {
            for arg in [
                "-Z",
                "-eZs",
                "-",
                "--",
                "prod",
                "https://example.com/template",
                "",
                "a\0b",
                "--suppress-outputs\0--stack=prod",
            ] {
                refused(cmd, arg);
            }
        }
        // The long and short names of one flag are distinct per command: `-f` is
        // `--skip-preview` on up and refresh, `--file` on import, unknown on preview.
        refused("preview", "-f");
        refused("import", "-f/tmp/other.json");
        // `up` has `--exclude` but no `-x`.
        refused("up", "-x");
    }

    #[test]
    fn destroy_and_stack_rm_take_nothing() {
        for cmd in ["destroy", "stack rm"] {
            assert!(check_extra_args(cmd, &[]).is_ok());
            for arg in ["--suppress-outputs", "-e", "--stack=prod", "x"] {
                refused(cmd, arg);
            }
        }
        assert!(check_extra_args("whoami", &["-e".into()]).is_err());
        assert!(managed_flags("destroy").is_none());
    }

    #[test]
    fn tables_are_consistent() {
        for cmd in COMMANDS {
            let flags = managed_flags(cmd).unwrap();
            for (i, f) in flags.iter().enumerate() {
                for g in &flags[i + 1..] {
                    assert_ne!(f.long, g.long, "{cmd}: --{} listed twice", f.long);
                    if f.short.is_some() {
                        assert_ne!(f.short, g.short, "{cmd}: -{:?} listed twice", f.short);
                    }
                }
            }
        }
    }
    /// Every flag an operation's argv carries is managed in that command's table: none
    /// can be given again as an extra argument.
    #[test]
    fn every_flag_the_crate_sets_is_managed() {
        use crate::ops::{
            DebugLogging, ImportOptions, ImportResource, PreviewOptions, RefreshOptions, UpOptions,
        };
        use std::path::Path;
        let debug = DebugLogging {
            level: 3,
            to_stderr: true,
            flow_to_plugins: true,
            debug: true,
        };
        let ev = Some(Path::new("/ev"));
        let up = UpOptions::default()
            .message("m")
            .target("urn:a")
            .target_dependents(true)
            .parallel(2)
            .expect_no_changes(true)
            .diff(true)
            .policy_pack("/p", Some("/p.json".into()))
            .show_replacement_steps(true)
            .show_secrets(true)
            .color(crate::ops::Color::Always)
            .debug_logging(debug.clone())
            .tracing_file("/t")
            .user_agent("a")
            .replace("urn:b")
            .refresh(true)
            .continue_on_error(true)
            .plan("/plan.json");
        let up_excl = UpOptions::default()
            .exclude("urn:c")
            .exclude_dependents(true);
        let preview = PreviewOptions::default()
            .message("m")
            .target("urn:a")
            .target_dependents(true)
            .parallel(2)
            .expect_no_changes(true)
            .diff(true)
            .policy_pack("/p", Some("/p.json".into()))
            .show_replacement_steps(true)
            .show_secrets(true)
            .debug_logging(debug.clone())
            .tracing_file("/t")
            .user_agent("a")
            .replace("urn:b")
            .refresh(true)
            .save_plan("/plan.json");
        let preview_excl = PreviewOptions::default()
            .exclude("urn:c")
            .exclude_dependents(true);
        let refresh = |preview_only| {
            RefreshOptions::default()
                .message("m")
                .target("urn:a")
                .target_dependents(true)
                .parallel(2)
                .expect_no_changes(true)
                .diff(true)
                .show_replacement_steps(true)
                .debug_logging(debug.clone())
                .tracing_file("/t")
                .user_agent("a")
                .preview_only(preview_only)
                .clear_pending_creates(true)
                .import_pending_create("urn:x", "id")
                .run_program(true)
        };
        let refresh_excl = RefreshOptions::default()
            .exclude("urn:c")
            .exclude_dependents(true)
            .skip_pending_creates(true);
        let import = |preview_only| {
            let mut o = ImportOptions::resources(vec![ImportResource::new("t:m:R", "n", "i")])
                .message("m")
                .parallel(2)
                .diff(true)
                .debug_logging(debug.clone())
                .tracing_file("/t")
                .user_agent("a")
                .preview_only(preview_only);
            o.generate_code_to = Some("/out".into());
            o
        };
        let cases: Vec<(&str, Vec<String>)> = vec![
            ("up", up.to_args("dev", ev).unwrap()),
            ("up", up_excl.to_args("dev", ev).unwrap()),
            ("preview", preview.to_args("dev", ev).unwrap()),
            ("preview", preview_excl.to_args("dev", ev).unwrap()),
            ("refresh", refresh(false).to_args("dev", ev).unwrap()),
            ("refresh", refresh(true).to_args("dev", ev).unwrap()),
            ("refresh", refresh_excl.to_args("dev", ev).unwrap()),
            (
                "import",
                import(false)
                    .to_args("dev", Path::new("/i.json"), ev)
                    .unwrap(),
            ),
            (
                "import",
                import(true)
                    .to_args("dev", Path::new("/i.json"), ev)
                    .unwrap(),
            ),
            (
                "import",
                ImportOptions::file("/i.json")
                    .to_args("dev", Path::new("/i.json"), ev)
                    .unwrap(),
            ),
        ];
        for (cmd, argv) in cases {
            assert_eq!(argv[0], cmd);
            let flags = managed_flags(cmd).unwrap();
            let mut rest = argv[1..].iter();
            let mut seen = 0;
            while let Some(a) = rest.next() {
                let name = a
                    .strip_prefix("--")
                    .unwrap_or_else(|| panic!("{cmd}: {a:?} is not a flag in {argv:?}"));
                let (name, inline) = match name.split_once('=') {
                    Some((n, _)) => (n, true),
                    None => (name, false),
                };
                let f = flags
                    .iter()
                    .find(|f| f.long == name)
                    .unwrap_or_else(|| panic!("{cmd}: --{name} is not in the table"));
                assert!(
                    f.managed,
                    "{cmd}: --{name} is set by the crate but not managed"
                );
                if f.takes_value && !inline {
                    rest.next();
                }
                seen += 1;
            }
            assert!(seen > 3, "{cmd}: {argv:?}");
        }
    }
}
