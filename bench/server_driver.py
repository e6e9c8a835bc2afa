#!/usr/bin/env python3
"""The service-backend benchmark's driver (started by bench/server, which prepares its inputs).

`pulumi up` then `pulumi destroy` of the `many` fixture program (N small files as N
resources) through pulumi-auto-server against the same on the file backend, side by side
in one run, at each resource count asked for (default 50, 200, 800). Both sides run the same
pinned `pulumi` binary on a fresh copy of the program (its Pulumi.yaml pointing at the shared
virtualenv), with a fresh PULUMI_HOME and output directory; the file side on a fresh
`file://` backend, the server side logged in to a fresh server (the release binary, its own
data directory and port).

Measured per run and side:
  up, destroy   wall time of `pulumi up --yes --skip-preview` and of `pulumi destroy --yes
                --skip-preview`, by this driver (stack init and config are not timed)
  CLI CPU       user + system CPU time of the `pulumi` process and every process it
                waited for (its plugins, the language host, the Python program), from
                RUSAGE_CHILDREN around the command: steadier than wall time on a loaded
                machine
  server CPU    utime + stime of the server process (/proc/PID/stat) over the up and the
                destroy (what the requests cost the server)
  server writes bytes the server caused to be written to storage (`write_bytes` of
                /proc/PID/io) over the up and the destroy: the database's and its WAL's
                writes (its log is at `warn`, nearly empty)
  db size       the database file and its WAL after the up and after the destroy
                (pulumi-auto-server.db, -wal; SQLite moves the WAL into the database
                every 1000 pages, so the WAL stays under about 4 MiB); for the file side
                the backend directory
and each run is checked: both commands exit 0, N files exist after the up, none after the
destroy.

Prints a markdown table and writes it to --out.
"""

import argparse
import json
import os
import platform
import resource
import secrets as rand
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

STACK = "bench"
TOKEN = "pul-bench-admin-" + rand.token_hex(16)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench-server] {msg}", file=sys.stderr, flush=True)


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
    # The pinned Python SDK re-wraps a pickling hook each time it serialises a dynamic
    # provider, so serialising the n-th resource's provider recurses about n levels deep:
    # past about 310 resources Python's default limit (1000) stops the program with a
    # RecursionError. The copy raises the limit (the same for both sides).
    main = os.path.join(dst, "__main__.py")
    with open(main, encoding="utf-8") as f:
        text = f.read()
    with open(main, "w", encoding="utf-8") as f:
        f.write("import sys\n\nsys.setrecursionlimit(20000)\n" + text)


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        stat = f.read()
    # The command name (field 2) is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def written_bytes(pid):
    """Bytes the process caused to be written to storage (`write_bytes` of /proc/PID/io:
    its database, WAL and log files; not what it sends on sockets)."""
    with open(f"/proc/{pid}/io", encoding="utf-8") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == "write_bytes":
                return int(v)
    return 0


def dir_size(path):
    total = 0
    for d, _subdirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(d, name))
            except FileNotFoundError:
                pass
    return total


class Server:
    """A pulumi-auto-server of its own: fresh data directory, free port."""

    def __init__(self, binary, root):
        self.data = os.path.join(root, "server-data")
        self.log = open(os.path.join(root, "server.log"), "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI")}
        env.update(PULUMI_AUTO_SERVER_ADMIN_TOKEN=TOKEN, RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--data", self.data],
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self.url = self.proc.stdout.readline().decode().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError(f"the server printed {self.url!r}, not its URL")
        import urllib.request

        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the server did not become healthy")
            time.sleep(0.05)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def written(self):
        return written_bytes(self.proc.pid)

    def db_size(self):
        """(the database file, its WAL) in bytes."""
        db = os.path.join(self.data, "pulumi-auto-server.db")
        return tuple(os.path.getsize(p) if os.path.exists(p) else 0 for p in (db, db + "-wal"))

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = a.tmp or tempfile.gettempdir()

    def pulumi(self, env, prog, *args):
        """Runs one `pulumi` command to its end; (wall seconds, CPU seconds of the CLI and
        every process it waited for: plugins, the language host, the program)."""
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run(
            [self.a.pulumi, *args],
            cwd=prog,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            tail = p.stdout.decode(errors="replace")[-3000:]
            raise RuntimeError(f"pulumi {' '.join(args)} exited with {p.returncode}:\n{tail}")
        return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

    def run_one(self, side, n):
        root = tempfile.mkdtemp(prefix=f"pulumi-auto-bench-server-{side}-{n}-", dir=self.tmp)
        server = None
        try:
            prog = os.path.join(root, "many")
            copy_program(os.path.join(self.a.repo, "fixtures", "programs", "many"), prog, self.a.venv)
            home, out = os.path.join(root, "home"), os.path.join(root, "out")
            os.makedirs(out)
            env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI")}
            env.update(
                PULUMI_HOME=home,
                PULUMI_SKIP_UPDATE_CHECK="true",
                PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            )
            if side == "file":
                state = os.path.join(root, "state")
                os.makedirs(state)
                env.update(PULUMI_BACKEND_URL=f"file://{state}", PULUMI_CONFIG_PASSPHRASE=rand.token_hex(16))
            else:
                server = Server(self.a.server, root)
                env.update(PULUMI_ACCESS_TOKEN=TOKEN)
                self.pulumi(env, prog, "login", server.url)
            self.pulumi(env, prog, "stack", "init", STACK)
            self.pulumi(env, prog, "config", "set", "dir", out)
            self.pulumi(env, prog, "config", "set", "count", str(n))
            m = {}
            c0, w0 = (server.cpu(), server.written()) if server else (0, 0)
            m["up"], m["up_cli_cpu"] = self.pulumi(env, prog, "up", "--yes", "--skip-preview")
            made = len(os.listdir(out))
            if made != n:
                raise RuntimeError(f"{side} {n}: {made} files after the up, {n} expected")
            if server:
                c1, w1 = server.cpu(), server.written()
                m["up_cpu"], m["up_written"] = c1 - c0, w1 - w0
                m["db_after_up"], m["wal_after_up"] = server.db_size()
            else:
                m["db_after_up"] = dir_size(state)
            m["destroy"], m["destroy_cli_cpu"] = self.pulumi(env, prog, "destroy", "--yes", "--skip-preview")
            left = len(os.listdir(out))
            if left:
                raise RuntimeError(f"{side} {n}: {left} files left after the destroy")
            if server:
                c2, w2 = server.cpu(), server.written()
                m["destroy_cpu"], m["destroy_written"] = c2 - c1, w2 - w1
                m["db_after_destroy"], m["wal_after_destroy"] = server.db_size()
            else:
                m["db_after_destroy"] = dir_size(state)
            m["total"] = m["up"] + m["destroy"]
            m["cli_cpu"] = m["up_cli_cpu"] + m["destroy_cli_cpu"]
            return m
        finally:
            if server:
                server.stop()
            if self.a.keep:
                log(f"kept {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)

    def run(self):
        a = self.a
        results = {}
        started = time.time()
        load_before = read_loadavg()
        warm = min(50, *a.counts)
        log(f"warm-up: file and server at {warm} resources")
        for side in ("file", "server"):
            self.run_one(side, warm)
        for n in a.counts:
            for r in range(a.runs):
                # Take turns: which side goes first alternates run by run.
                order = ("file", "server") if r % 2 == 0 else ("server", "file")
                for side in order:
                    m = self.run_one(side, n)
                    extra = ""
                    if side == "server":
                        extra = (f", server CPU {m['up_cpu'] + m['destroy_cpu']:.2f} s, "
                                 f"written {mib(m['up_written'] + m['destroy_written'])}")
                    log(f"{n} resources, run {r + 1}/{a.runs}, {side}: up {m['up']:.2f} s, "
                        f"destroy {m['destroy']:.2f} s{extra}")
                    results.setdefault((n, side), []).append(m)
        return render(self, results, time.time() - started, load_before, read_loadavg())


def read_loadavg():
    with open("/proc/loadavg", encoding="utf-8") as f:
        return " ".join(f.read().split()[:3])


def mib(b):
    return f"{b / 1024 / 1024:.2f} MiB"


def kib(b):
    return f"{b / 1024:.0f} KiB"


def med(ms, key):
    return statistics.median(m[key] for m in ms)


def render(bench, results, elapsed, load_before, load_after):
    a = bench.a
    lines = []
    lines.append(f"`up` then `destroy` of `many`, median of {a.runs} runs per count and side "
                 f"(after 1 warm-up of each side at 50), sides taking turns.")
    lines.append("")
    lines.append("| resources | file: up + destroy | server: up + destroy | wall ratio | CLI CPU file / server "
                 "| CPU ratio (CLI + server) | server CPU (up + destroy) "
                 "| server writes (up + destroy) | database (+ WAL) after up | after destroy | file backend after up / destroy |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in a.counts:
        f, s = results[(n, "file")], results[(n, "server")]
        fu, fd, su, sd = med(f, "up"), med(f, "destroy"), med(s, "up"), med(s, "destroy")
        ratio = (su + sd) / (fu + fd)
        fc, sc = med(f, "cli_cpu"), med(s, "cli_cpu")
        scpu = statistics.median(m["cli_cpu"] + m["up_cpu"] + m["destroy_cpu"] for m in s)
        lines.append(
            f"| {n} | {fu:.2f} + {fd:.2f} = {fu + fd:.2f} s | {su:.2f} + {sd:.2f} = {su + sd:.2f} s "
            f"| {ratio:.2f}x | {fc:.2f} / {sc:.2f} s | {scpu / fc:.2f}x "
            f"| {med(s, 'up_cpu'):.2f} + {med(s, 'destroy_cpu'):.2f} s "
            f"| {mib(med(s, 'up_written'))} + {mib(med(s, 'destroy_written'))} "
            f"| {kib(med(s, 'db_after_up'))} (+ {kib(med(s, 'wal_after_up'))}) "
            f"| {kib(med(s, 'db_after_destroy'))} (+ {kib(med(s, 'wal_after_destroy'))}) "
            f"| {kib(med(f, 'db_after_up'))} / {kib(med(f, 'db_after_destroy'))} |"
        )
    lines.append("")
    lines.append("Every run (wall seconds up/destroy, file then server):")
    lines.append("")
    for n in a.counts:
        f = ", ".join(f"{m['up']:.2f}/{m['destroy']:.2f}" for m in results[(n, "file")])
        s = ", ".join(f"{m['up']:.2f}/{m['destroy']:.2f}" for m in results[(n, "server")])
        lines.append(f"- {n}: file {f}; server {s}")
    lines.append("")
    cpu = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ver = subprocess.run([a.pulumi, "version"], capture_output=True, text=True).stdout.strip()
    lines.append(f"Machine: {os.cpu_count()} cores ({cpu}), Linux {platform.release()}; pulumi {ver}; "
                 f"load average {load_before} before, {load_after} after; {elapsed / 60:.1f} min in all; "
                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.")
    text = "\n".join(lines) + "\n"
    raw = {f"{n}/{side}": ms for (n, side), ms in results.items()}
    return text, raw


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True)
    p.add_argument("--pulumi", required=True, help="the real pinned pulumi binary")
    p.add_argument("--venv", required=True, help="the virtualenv with the pinned pulumi SDK")
    p.add_argument("--server", required=True, help="the pulumi-auto-server release binary")
    p.add_argument("--counts", type=lambda s: [int(x) for x in s.split(",")], default=[50, 200, 800],
                   help="resource counts, comma-separated (default 50,200,800)")
    p.add_argument("--runs", type=int, default=3, help="runs per count and side (default 3)")
    p.add_argument("--tmp", help="where the runs' directories go (default: the system's)")
    p.add_argument("--keep", action="store_true", help="keep the runs' directories")
    p.add_argument("--out", help="write the table here (default bench/results/server.md)")
    a = p.parse_args()
    text, raw = Bench(a).run()
    print(text)
    out = a.out or os.path.join(a.repo, "bench", "results", "server.md")
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.splitext(out)[0] + ".json", "w", encoding="utf-8") as f:
        json.dump(raw, f, indent=1)
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
