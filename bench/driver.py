#!/usr/bin/env python3
"""The end-to-end benchmark's driver (started by bench/run, which prepares its inputs).

Runs one flow (create or select a stack, set 3 config values with 1 secret, up, read the
outputs, destroy, remove) on the same program and the same pinned CLI binary by:

  rust          examples/bench_flow.rs, this crate (destroy and remove in one process,
                an approval that overrides protection: no protection-tag read)
  rust-checked  the same with the default approval, which reads the protection tag first
  rust-cached   `rust` on one CLI binary kept for all its runs (the same counting wrapper
                file and cache directory), so from the second driver process on the
                on-disk version cache answers and no `pulumi version` runs
  rust-unchecked  `rust` with PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true: no `pulumi
                version` process (the official SDKs run it even then)
  python        bench/flow_python.py, the pinned `pulumi` Python SDK's Automation API
  shell         bench/flow_shell.sh, the shortest hand-written sequence of `pulumi`
                commands (the floor)

on the `files` program and on the `many` program with 200 resources, then 16 stacks of
`files` in parallel. Every run starts from nothing: a fresh temporary directory with a
copy of the program (its Pulumi.yaml pointing at the shared virtualenv), a fresh file
backend, PULUMI_HOME, passphrase and output directory, and a counting wrapper in front of
the real CLI, given to each side as its CLI (PULUMI_AUTO_CLI, PulumiCommand(root=...),
$PULUMI) and put first on PATH.

Measured per run:
  wall        from starting the orchestrating process to its exit, by this driver
  processes   `pulumi` processes started (lines the wrapper appended to its log)
  peak RSS    the orchestrating process's own peak resident set size (VmHWM, read by the
              process itself at its end): the CLI, its plugins and the Python program
              it runs are not included
and each run is checked: exit status 0, the `count` output as expected, the secret
output revealed and equal to the value set (files), every output file gone after the
destroy, and the stack gone from the backend.

Prints a markdown table and writes it to --out.
"""

import argparse
import glob
import json
import os
import platform
import secrets as rand
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

FLOWS = ("rust", "rust-cached", "rust-unchecked", "rust-checked", "python", "shell")
# The parallel benchmark's sides (the crate's parallel side uses EphemeralStack, whose
# teardown never reads the protection tag, so there is no checked variant).
PARALLEL_FLOWS = ("rust", "python", "shell")
STACK = "bench"

# The wrapper in front of the real CLI: one line per process (its start time and the
# first two words that are not flags, which name the command and never hold a config
# value), appended in one write, then the real binary in the same process.
WRAPPER = r"""#!/usr/bin/env bash
w=()
for a in "$@"; do
  [[ $a == -* ]] && continue
  w+=("$a")
  ((${#w[@]} == 2)) && break
done
printf '%s %s\n' "$EPOCHREALTIME" "${w[*]}" >>"${BENCH_SPAWN_LOG:-@LOG@}"
exec '@REAL@' "$@"
"""


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def copy_program(src, dst, venv):
    shutil.copytree(
        src,
        dst,
        ignore=lambda _d, names: [
            n
            for n in names
            if n in ("venv", "__pycache__", ".pulumi-state")
            or (n.startswith("Pulumi.") and n != "Pulumi.yaml")
        ],
    )
    yaml = os.path.join(dst, "Pulumi.yaml")
    with open(yaml, encoding="utf-8") as f:
        text = f.read()
    if "virtualenv: venv" not in text:
        raise SystemExit(f"{yaml}: no `virtualenv: venv` option to point at the shared venv")
    with open(yaml, "w", encoding="utf-8") as f:
        f.write(text.replace("virtualenv: venv", f"virtualenv: {venv}"))


def make_wrapper(root, real):
    bindir = os.path.join(root, "cli", "bin")
    os.makedirs(bindir)
    path = os.path.join(bindir, "pulumi")
    logf = os.path.join(root, "spawned.log")
    with open(path, "w", encoding="utf-8") as f:
        f.write(WRAPPER.replace("@LOG@", logf).replace("@REAL@", real))
    os.chmod(path, 0o755)
    return path, logf


def read_spawned(logf):
    """[(start time, command label)] from the wrapper's log."""
    out = []
    try:
        with open(logf, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        ts, _, words = line.partition(" ")
        w = words.split()
        label = " ".join(w[:2]) if w and w[0] in ("stack", "config", "plugin") else (w[0] if w else "?")
        out.append((float(ts), label))
    return out


class Program:
    def __init__(self, name, count):
        self.name = name
        self.count = count  # resources for `many`; the expected `count` output

    def config(self, out):
        if self.name == "files":
            return [("dir", out), ("greeting", "hello from the benchmark")]
        return [("dir", out), ("count", str(self.count))]

    @property
    def expect_count(self):
        return 2 if self.name == "files" else self.count

    @property
    def secret_output(self):
        # The files program exports the `token` config value as a secret output.
        return self.name == "files"


class Bench:
    def __init__(self, a):
        self.a = a
        self.repo = a.repo
        self.real = a.pulumi
        self.venv = a.venv
        self.flow_rust = a.bench_flow
        self.flow_python = os.path.join(self.repo, "bench", "flow_python.py")
        self.flow_shell = os.path.join(self.repo, "bench", "flow_shell.sh")
        self.tmp = a.tmp or tempfile.gettempdir()

    # -- one run ------------------------------------------------------------------------

    def shared_wrapper(self):
        """The one counting wrapper (and, beside it, the cache directory) that every run of
        `rust-cached` uses: the same file, so the library's on-disk version cache, keyed by
        the binary's identity, answers from the second driver process on. Each run points
        the wrapper at its own log with BENCH_SPAWN_LOG."""
        if getattr(self, "_shared", None) is None:
            root = tempfile.mkdtemp(prefix="pulumi-auto-bench-shared-cli-", dir=self.tmp)
            os.makedirs(os.path.join(root, "cache"))
            self._shared, _ = make_wrapper(root, self.real)
        return self._shared

    def env(self, wrapper, extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI")}
        env.update(
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_AUTO_CLI=wrapper,
            PULUMI=wrapper,
            PATH=os.path.dirname(wrapper) + os.pathsep + os.environ.get("PATH", ""),
            PULUMI_CONFIG_PASSPHRASE=rand.token_hex(16),
            BENCH_SECRET_KEY="token",
            BENCH_SECRET=rand.token_hex(12),
        )
        env.update(extra)
        return env

    def command(self, flow, mode, prog, cli_root, result, config, extra):
        """argv of one orchestrator. `extra` holds the mode's own arguments."""
        cfg = []
        if flow == "shell":
            if mode == "single":
                return ["bash", self.flow_shell, "single", STACK, result, extra["outputs"]] + [
                    f"{k}={v}" for k, v in config
                ]
            return ["bash", self.flow_shell, "parallel", extra["root"], str(extra["stacks"]), result] + [
                f"{k}={v}" for k, v in config
            ]
        for k, v in config:
            cfg += ["--config", f"{k}={v}"]
        common = cfg + ["--secret-key", "token", "--expect-count", str(extra["expect"]), "--result", result]
        if mode == "single":
            where = ["--backend", extra["backend"], "--home", extra["home"], "--stack", STACK]
        else:
            where = ["--root", extra["root"], "--stacks", str(extra["stacks"])]
        if flow == "rust-checked":
            return [self.flow_rust, mode, "--work-dir", prog] + where + ["--protection-check"] + common
        if flow in ("rust", "rust-cached", "rust-unchecked"):
            return [self.flow_rust, mode, "--work-dir", prog] + where + common
        return [os.path.join(self.venv, "bin", "python"), self.flow_python, mode, "--cli-root", cli_root,
                "--work-dir", prog] + where + common

    def run_one(self, program, flow, mode):
        """Runs one flow once in a fresh directory; returns its measurements (checked)."""
        root = tempfile.mkdtemp(prefix=f"pulumi-auto-bench-{program.name}-{flow}-", dir=self.tmp)
        try:
            return self._run_in(root, program, flow, mode)
        except Exception:
            if not self.a.keep:
                log(f"(the failed run's directory is kept: {root})")
            raise
        finally:
            if self.a.keep:
                log(f"kept {root}")

    def _run_in(self, root, program, flow, mode):
        prog = os.path.join(root, program.name)
        copy_program(os.path.join(self.repo, "fixtures", "programs", program.name), prog, self.venv)
        wrapper, logf = make_wrapper(root, self.real)
        if flow == "rust-cached":
            wrapper = self.shared_wrapper()
        cli_root = os.path.dirname(os.path.dirname(wrapper))
        result = os.path.join(root, "result.json")
        stacks = []  # (stack name, its dir or root, outputs file)
        if mode == "single":
            state, home, out = (os.path.join(root, d) for d in ("state", "home", "out"))
            for d in (state, home, out):
                os.makedirs(d)
            extra_env = {"PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_HOME": home}
            extra = {
                "backend": f"file://{state}",
                "home": home,
                "outputs": os.path.join(root, "outputs.json"),
                "expect": program.expect_count,
            }
            stacks.append((STACK, root, extra["outputs"]))
        else:
            extra_env = {}
            extra = {"root": os.path.join(root, "par"), "stacks": self.a.stacks, "expect": program.expect_count}
            for i in range(self.a.stacks):
                d = os.path.join(extra["root"], f"stack-{i:02d}")
                for sub in ("state", "home", "out"):
                    os.makedirs(os.path.join(d, sub))
                stacks.append((f"par-{i:02d}", d, os.path.join(d, "outputs.json")))
        config = program.config(os.path.join(root, "out"))
        env = self.env(wrapper, extra_env)
        if flow == "rust-unchecked":
            env["PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK"] = "true"
        if flow == "rust-cached":
            env["BENCH_SPAWN_LOG"] = logf
            env["PULUMI_AUTO_CACHE_DIR"] = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(wrapper))), "cache")
        argv = self.command(flow, mode, prog, cli_root, result, config, extra)

        with open(os.path.join(root, "stdout"), "wb") as so, open(os.path.join(root, "stderr"), "wb") as se:
            started_at = time.time()
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, cwd=prog, env=env, stdout=so, stderr=se, stdin=subprocess.DEVNULL)
            _, status, _ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            ended_at = time.time()
            p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            with open(os.path.join(root, "stderr"), encoding="utf-8", errors="replace") as f:
                tail = f.read()[-3000:]
            raise RuntimeError(f"{flow} {program.name} {mode} exited with {p.returncode}:\n{tail}")

        with open(result, encoding="utf-8") as f:
            res = json.load(f)
        self.check(program, flow, env, res, stacks, root)
        spawned = read_spawned(logf)
        if not self.a.keep:
            shutil.rmtree(root, ignore_errors=True)
        return {
            "wall": wall,
            "processes": len(spawned),
            "peak_rss_kib": res.get("peak_rss_kib"),
            "import_seconds": res.get("import_seconds"),
            "spawned": spawned,
            "started_at": started_at,
            "ended_at": ended_at,
        }

    def check(self, program, flow, env, res, stacks, root):
        what = f"{flow} {program.name}"
        if flow == "shell":
            for name, _d, outputs in stacks:
                with open(outputs, encoding="utf-8") as f:
                    out = json.load(f)
                if out.get("count") != program.expect_count:
                    raise RuntimeError(f"{what}: stack {name}: count output is not {program.expect_count}")
                if program.secret_output and out.get("token") != env["BENCH_SECRET"]:
                    raise RuntimeError(f"{what}: stack {name}: the secret output does not match")
        else:
            if res.get("flows") != len(stacks):
                raise RuntimeError(f"{what}: {res.get('flows')} flows reported, {len(stacks)} expected")
            if not res.get("count_ok"):
                raise RuntimeError(f"{what}: count output is not {program.expect_count}")
            if not res.get("secret_ok"):
                raise RuntimeError(f"{what}: the secret output does not match")
        for name, d, _o in stacks:
            out = os.path.join(d, "out")
            left = os.listdir(out) if os.path.isdir(out) else []
            if left:
                raise RuntimeError(f"{what}: stack {name}: {len(left)} files left after destroy in {out}")
            state = os.path.join(d, "state")
            # Any stack file (`<stack>.json`, `.json.gz`; backups aside): the crate's
            # ephemeral stacks have names of their own.
            left = [f for f in glob.glob(os.path.join(state, ".pulumi", "stacks", "*", "*.json*"))
                    if not f.endswith((".bak", ".attrs"))]
            if left:
                raise RuntimeError(f"{what}: stack {name}: still in the backend: {left}")
            if not os.path.isdir(os.path.join(state, ".pulumi")):
                raise RuntimeError(f"{what}: stack {name}: the backend {state} was never used")

    # -- the whole benchmark --------------------------------------------------------------

    def run(self):
        a = self.a
        programs = [Program(p, a.many_count) for p in a.programs]
        flows = list(a.flows)
        results = {"single": {}, "parallel": {}}
        load_before = read_loadavg()
        started = time.time()
        for program in programs:
            for flow in flows:
                log(f"warm-up: {flow} {program.name}")
                self.run_one(program, flow, "single")
            for r in range(a.runs):
                order = flows[r % len(flows):] + flows[: r % len(flows)]
                for flow in order:
                    m = self.run_one(program, flow, "single")
                    log(f"run {r + 1}/{a.runs}: {flow} {program.name}: {m['wall']:.2f} s, "
                        f"{m['processes']} processes")
                    results["single"].setdefault((program.name, flow), []).append(m)
        flows_par = [f for f in flows if f in PARALLEL_FLOWS]
        if a.par_runs > 0 and flows_par:
            files = Program("files", a.many_count)
            for flow in flows_par:
                log(f"warm-up: {flow} {a.stacks} x files in parallel")
                self.run_one(files, flow, "parallel")
            for r in range(a.par_runs):
                order = flows_par[r % len(flows_par):] + flows_par[: r % len(flows_par)]
                for flow in order:
                    m = self.run_one(files, flow, "parallel")
                    log(f"parallel run {r + 1}/{a.par_runs}: {flow}: {m['wall']:.2f} s, "
                        f"{m['processes']} processes")
                    results["parallel"].setdefault(flow, []).append(m)
        load_after = read_loadavg()
        if getattr(self, "_shared", None) and not a.keep:
            shutil.rmtree(os.path.dirname(os.path.dirname(os.path.dirname(self._shared))), ignore_errors=True)
        return render(self, programs, flows, results, load_before, load_after, time.time() - started)


# -- reporting --------------------------------------------------------------------------------


def read_loadavg():
    with open("/proc/loadavg", encoding="utf-8") as f:
        return f.read().split()[:3]


def machine(bench):
    def sh(*argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"

    cpu = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "ram": mem,
        "kernel": platform.release(),
        "os": sh("sh", "-c", ". /etc/os-release 2>/dev/null && echo \"$PRETTY_NAME\""),
        "pulumi": sh(bench.real, "version"),
        "python": sh(os.path.join(bench.venv, "bin", "python"), "--version"),
        "python sdk": sh(os.path.join(bench.venv, "bin", "python"), "-c",
                         "import importlib.metadata as m; print(m.version('pulumi'))"),
        "rustc": sh("rustc", "--version"),
        "bash": sh("bash", "-c", "echo $BASH_VERSION"),
    }


def fmt_s(x):
    return f"{x:.2f} s"


def fmt_mib(kib):
    return "?" if kib is None else f"{kib / 1024:.1f} MiB"


def counts(ms):
    c = sorted({m["processes"] for m in ms})
    return str(c[0]) if len(c) == 1 else f"{c[0]}–{c[-1]}"


def median_run(ms):
    return sorted(ms, key=lambda m: m["wall"])[(len(ms) - 1) // 2]


def breakdown(m):
    """Where the median run's time went: orchestrator start to the first CLI process,
    then each CLI process from its start to the next one's (or to the exit)."""
    sp = m["spawned"]
    if not sp:
        return "no pulumi process"
    parts = [f"start {sp[0][0] - m['started_at']:.2f}"]
    for i, (ts, label) in enumerate(sp):
        end = sp[i + 1][0] if i + 1 < len(sp) else m["ended_at"]
        parts.append(f"{label} {end - ts:.2f}")
    return " · ".join(parts)


def render(bench, programs, flows, results, load_before, load_after, elapsed):
    a = bench.a
    mach = machine(bench)
    quiet = float(load_before[0]) < 1.0
    lines = []
    w = lines.append
    w(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `bench/run --runs {a.runs}"
      + (f" --par-runs {a.par_runs}" if a.par_runs != a.runs else "")
      + f"` ({a.runs} run{'s' if a.runs != 1 else ''} after 1 warm-up per flow; {elapsed / 60:.1f} min in all).")
    w("")
    w(f"Machine: {mach['cores']} cores, {mach['cpu']}, {mach['ram']} RAM, Linux {mach['kernel']}"
      f" ({mach['os']}); pulumi {mach['pulumi']}, Python SDK {mach['python sdk']} on {mach['python']},"
      f" {mach['rustc']}, bash {mach['bash']}.")
    w(f"Load average (1, 5, 15 min): {' '.join(load_before)} before, {' '.join(load_after)} after"
      + (f" (the {a.stacks} parallel stacks load the machine themselves)." if results["parallel"] else ".")
      + ("" if quiet else " **The machine was busy when the run started: these times are disturbed.**"))
    w("")
    if results["single"]:
        w("| flow | program | median | min | max | ratio to shell | `pulumi` processes | peak RSS of the orchestrator |")
        w("|---|---|---|---|---|---|---|---|")
        for program in programs:
            floor = results["single"].get((program.name, "shell"))
            floor_med = statistics.median(m["wall"] for m in floor) if floor else None
            for flow in flows:
                ms = results["single"].get((program.name, flow))
                if not ms:
                    continue
                walls = [m["wall"] for m in ms]
                med = statistics.median(walls)
                ratio = f"{med / floor_med:.3f}" if floor_med else "–"
                rss = [m["peak_rss_kib"] for m in ms if m["peak_rss_kib"] is not None]
                label = program.name if program.name == "files" else f"{program.name} ({program.count})"
                w(f"| {flow} | {label} | {fmt_s(med)} | {fmt_s(min(walls))} | {fmt_s(max(walls))} | {ratio} "
                  f"| {counts(ms)} | {fmt_mib(statistics.median(rss) if rss else None)} |")
        w("")
    if results["parallel"]:
        w(f"{a.stacks} stacks of `files` in parallel ({a.par_runs} run{'s' if a.par_runs != 1 else ''}"
          " after 1 warm-up; processes counted for all the stacks together, peak RSS of the one"
          " orchestrating process):")
        w("")
        w("| flow | median | min | max | ratio to shell | `pulumi` processes | peak RSS of the orchestrator |")
        w("|---|---|---|---|---|---|---|")
        floor = results["parallel"].get("shell")
        floor_med = statistics.median(m["wall"] for m in floor) if floor else None
        for flow in flows:
            ms = results["parallel"].get(flow)
            if not ms:
                continue
            walls = [m["wall"] for m in ms]
            med = statistics.median(walls)
            ratio = f"{med / floor_med:.3f}" if floor_med else "–"
            rss = [m["peak_rss_kib"] for m in ms if m["peak_rss_kib"] is not None]
            w(f"| {flow} | {fmt_s(med)} | {fmt_s(min(walls))} | {fmt_s(max(walls))} | {ratio} | {counts(ms)} "
              f"| {fmt_mib(statistics.median(rss) if rss else None)} |")
        w("")
    if results["parallel"]:
        w("The `pulumi` commands of a parallel run, by count:")
        w("")
        for flow in flows:
            ms = results["parallel"].get(flow)
            if ms:
                by = {}
                for _ts, label in median_run(ms)["spawned"]:
                    by[label] = by.get(label, 0) + 1
                w(f"- {flow}: " + ", ".join(f"{label} {n}" for label, n in by.items()))
        w("")
    if results["single"]:
        w("Where the time goes (the median run, seconds: orchestrator start to the first `pulumi`,"
          " then each `pulumi` process from its start to the next one's start or the orchestrator's exit):")
        w("")
        for program in programs:
            for flow in flows:
                ms = results["single"].get((program.name, flow))
                if ms:
                    m = median_run(ms)
                    imp = m.get("import_seconds")
                    note = f" (of the start, importing `pulumi.automation`: {imp:.2f})" if imp else ""
                    w(f"- {flow}, {program.name}: {breakdown(m)}{note}")
        w("")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True)
    p.add_argument("--pulumi", required=True, help="the real pulumi binary")
    p.add_argument("--venv", required=True, help="the virtualenv with the pinned pulumi SDK")
    p.add_argument("--bench-flow", required=True, help="the built examples/bench_flow binary")
    p.add_argument("--runs", type=int, default=5, help="measured runs per flow and program (default 5)")
    p.add_argument("--par-runs", type=int, default=None, help="measured parallel runs (default: --runs; 0 skips)")
    p.add_argument("--stacks", type=int, default=16, help="stacks in the parallel benchmark (default 16)")
    p.add_argument("--many-count", type=int, default=200, help="resources of the many program (default 200)")
    p.add_argument("--programs", default="files,many", help="comma-separated (default files,many; empty: none)")
    p.add_argument("--flows", default=",".join(FLOWS), help="comma-separated subset of " + ",".join(FLOWS))
    p.add_argument("--out", default=None, help="markdown output (default bench/results/latest.md)")
    p.add_argument("--tmp", default=None, help="where the runs' temporary directories go")
    p.add_argument("--keep", action="store_true", help="keep every run's directory")
    a = p.parse_args()
    a.programs = [x for x in a.programs.split(",") if x]
    a.flows = [x for x in a.flows.split(",") if x]
    for x in a.programs:
        if x not in ("files", "many"):
            p.error(f"unknown program {x!r}")
    for x in a.flows:
        if x not in FLOWS:
            p.error(f"unknown flow {x!r}")
    if a.runs < 1:
        p.error("--runs must be at least 1")
    if a.par_runs is None:
        a.par_runs = a.runs
    a.out = a.out or os.path.join(a.repo, "bench", "results", "latest.md")

    table = Bench(a).run()
    print(table)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("# Latest end-to-end benchmark run\n\n" + table + "\n")
    log(f"written to {a.out}")


if __name__ == "__main__":
    main()
