#!/usr/bin/env python3
"""The multi-replica benchmark's driver (started by bench/scale.sh, which prepares its inputs).

Three measurements, each on fresh databases and data directories:

  reads     `GET /api/stacks/organization/proj/bench` (get stack, the CLI's and the REST
            API's route) under wrk at --connections connections on loopback, against 1, 2
            and 3 replicas on one PostgreSQL database: one wrk process per replica, all at
            once, the connections split evenly between them, the req/s summed (no load
            balancer in between). One SQLite server under the same load for reference.
            The CPU time of the replicas, of the database's backends (the
            PostgreSQL processes serving this database, from pg_stat_activity) and of wrk
            shows where the 2 cores go.
  update    `pulumi up --yes --skip-preview` then `pulumi destroy` of the `many` fixture
            at --resources resources through one server, on SQLite and on PostgreSQL (the
            same release binary, pinned CLI and shared virtualenv as bench/server).
  burners   --burners requests `POST /api/programs/burner/burn` (an ephemeral stack each:
            up, outputs, destroy), --burn-concurrency at a time, sent round-robin to 1 and
            to 3 replicas on one PostgreSQL database; the wall time of the whole batch.

Every answer is checked (200, the right number of files); a wrong one fails the run.
Prints a markdown report and writes it to --out.
"""

import argparse
import base64
import concurrent.futures
import json
import os
import re
import secrets as rand
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_driver import copy_program, cpu_seconds  # noqa: E402

TOKEN = "pul-bench-admin-" + rand.token_hex(16)
MASTER_KEY = base64.b64encode(os.urandom(32)).decode()


def log(msg):
    print(f"[bench-scale] {msg}", file=sys.stderr, flush=True)


class Postgres:
    """The PostgreSQL server of --postgres: fresh databases on it, dropped at the end. The
    password travels in PGPASSWORD, never on a command line."""

    def __init__(self, url, psql):
        self.url = url
        self.psql = psql
        u = urllib.parse.urlsplit(url)
        self.env = dict(
            os.environ,
            PGHOST=u.hostname or "127.0.0.1",
            PGPORT=str(u.port or 5432),
            PGUSER=urllib.parse.unquote(u.username or ""),
            PGPASSWORD=urllib.parse.unquote(u.password or ""),
            PGDATABASE=u.path.lstrip("/") or "postgres",
            PGCONNECT_TIMEOUT="5",
        )
        self.made = []

    def sql(self, text, db=None):
        env = dict(self.env)
        if db:
            env["PGDATABASE"] = db
        p = subprocess.run(
            [self.psql, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", text],
            env=env,
            capture_output=True,
            text=True,
        )
        if p.returncode != 0:
            raise RuntimeError(f"psql: {p.stderr.strip()}")
        return p.stdout.strip()

    def new_database(self):
        name = f"pa_bench_{os.getpid()}_{len(self.made)}_{rand.token_hex(3)}"
        self.sql(f"CREATE DATABASE {name}")
        self.made.append(name)
        u = urllib.parse.urlsplit(self.url)
        return name, urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, ""))

    def backends(self, db):
        """PIDs of the server processes serving database `db`."""
        out = self.sql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'")
        return [int(x) for x in out.split() if x.strip()]

    def drop_all(self):
        for name in self.made:
            try:
                self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            except RuntimeError as e:
                log(f"could not drop {name}: {e}")


class Replica:
    """One `pulumi-auto-server serve` on a free port with a data directory of its own; all
    replicas share the admin token and the master key."""

    def __init__(self, binary, root, database=None, programs=(), pulumi=None):
        os.makedirs(root, exist_ok=True)
        self.data = os.path.join(root, "data")
        self.log = open(os.path.join(root, "server.log"), "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI")}
        env.update(
            PULUMI_AUTO_SERVER_ADMIN_TOKEN=TOKEN,
            PULUMI_AUTO_SERVER_MASTER_KEY=MASTER_KEY,
            RUST_LOG="warn",
        )
        if database:
            env["PULUMI_AUTO_SERVER_DATABASE"] = database
        if pulumi:
            # The CLI the custom API's runs use (the library's lookup variable).
            env["PULUMI_AUTO_CLI"] = pulumi
        args = [binary, "serve", "--listen", "127.0.0.1:0", "--data", self.data]
        for name, path in programs:
            args += ["--program", f"{name}={path}"]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, env=env
        )
        self.url = self.proc.stdout.readline().decode().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError(f"the server printed {self.url!r}, not its URL")
        wait_for(f"{self.url}/healthz", 60)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def call(method, url, body=None, timeout=600):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"token {TOKEN}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def wait_for(url, limit, ok=(200,)):
    deadline = time.time() + limit
    last = None
    while time.time() < deadline:
        try:
            last = call("GET", url, timeout=5)
            if last[0] in ok:
                return
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer {ok} within {limit} s (last: {last})")


def parse_latency(text):
    """wrk's latency figure (`1.23ms`, `850.00us`, `1.2s`) in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk_all(urls, connections, duration, header):
    """One wrk process per URL, all at once; (summed req/s, the worst p50 and p99 in ms,
    the non-2xx count, wrk's CPU seconds)."""
    per = max(1, connections // len(urls))
    threads = 2 if len(urls) == 1 else 1
    r0 = os.times()
    procs = [
        subprocess.Popen(
            ["wrk", f"-t{threads}", f"-c{per}", f"-d{duration}", "--latency", "-H", header, u],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for u in urls
    ]
    outs = [p.communicate()[0] for p in procs]
    r1 = os.times()
    rps, p50, p99, bad = 0.0, 0.0, 0.0, 0
    for out in outs:
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if not m:
            raise RuntimeError(f"wrk printed no rate:\n{out}")
        rps += float(m.group(1))
        for line in out.splitlines():
            f = line.split()
            if len(f) == 2 and f[0] == "50%":
                p50 = max(p50, parse_latency(f[1]))
            if len(f) == 2 and f[0] == "99%":
                p99 = max(p99, parse_latency(f[1]))
        m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        if m:
            bad += int(m.group(1))
    wrk_cpu = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
    return rps, p50, p99, bad, wrk_cpu


def seconds(duration):
    m = re.fullmatch(r"(\d+)(s|m)?", duration)
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def reads(a, pg, tmp):
    rows = []
    header = f"Authorization: token {TOKEN}"
    path = "/api/stacks/organization/proj/bench"
    dur = seconds(a.duration)

    def measure(label, replicas, db):
        urls = [r.url + path for r in replicas]
        for u in urls:
            st, body = call("GET", u)
            if st != 200:
                raise RuntimeError(f"GET {u}: {st} {body}")
        wrk_all(urls, a.connections, "3s", header)  # warm: the pools fill
        b0 = {p: cpu_or_zero(p) for p in pg.backends(db)} if db else {}
        c0 = [r.cpu() for r in replicas]
        load = open("/proc/loadavg").read().split()[0]
        rps, p50, p99, bad, wrk_cpu = wrk_all(urls, a.connections, a.duration, header)
        srv = sum(r.cpu() for r in replicas) - sum(c0)
        # The backends serving the database at the end: what each used since the start (a
        # connection opened meanwhile, all of it; one closed meanwhile is not counted).
        dbc = sum(cpu_or_zero(p) - b0.get(p, 0.0) for p in pg.backends(db)) if db else 0.0
        if bad:
            raise RuntimeError(f"{label}: {bad} answers were not 2xx")
        rows.append(
            dict(label=label, rps=rps, p50=p50, p99=p99, srv=srv / dur, db=dbc / dur,
                 wrk=wrk_cpu / dur, load=load, n=rps * dur)
        )
        log(f"reads, {label}: {rps:.0f} req/s, p99 {p99:.1f} ms, CPU server {srv / dur:.2f}"
            f" db {dbc / dur:.2f} wrk {wrk_cpu / dur:.2f} cores")

    # SQLite: one server, the reference.
    r = Replica(a.server, os.path.join(tmp, "reads-sqlite"))
    try:
        st, body = call("POST", f"{r.url}/api/stacks/organization/proj", {"stackName": "bench"})
        if st != 200:
            raise RuntimeError(f"create stack: {st} {body}")
        measure("1 server, SQLite", [r], None)
    finally:
        r.stop()

    db, url = pg.new_database()
    replicas = []
    try:
        for i in range(3):
            replicas.append(Replica(a.server, os.path.join(tmp, f"reads-pg-{i}"), url))
        st, body = call(
            "POST", f"{replicas[0].url}/api/stacks/organization/proj", {"stackName": "bench"}
        )
        if st != 200:
            raise RuntimeError(f"create stack: {st} {body}")
        for n in (1, 2, 3):
            measure(f"{n} replica{'s' if n > 1 else ''}, PostgreSQL", replicas[:n], db)
    finally:
        for r in replicas:
            r.stop()
    return rows


def cpu_or_zero(pid):
    try:
        return cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def update(a, pg, tmp, side):
    root = tempfile.mkdtemp(prefix=f"update-{side}-", dir=tmp)
    db, url = pg.new_database() if side == "postgres" else (None, None)
    server = Replica(a.server, os.path.join(root, "server"), url)
    try:
        prog = os.path.join(root, "many")
        copy_program(os.path.join(a.repo, "fixtures", "programs", "many"), prog, a.venv)
        out = os.path.join(root, "out")
        os.makedirs(out)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI")}
        env.update(
            PULUMI_HOME=os.path.join(root, "home"),
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_ACCESS_TOKEN=TOKEN,
        )

        def pulumi(*args):
            t0 = time.perf_counter()
            p = subprocess.run([a.pulumi, *args], cwd=prog, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if p.returncode != 0:
                raise RuntimeError(f"pulumi {' '.join(args)}: {p.stdout.decode()[-3000:]}")
            return time.perf_counter() - t0

        pulumi("login", server.url)
        pulumi("stack", "init", "bench")
        pulumi("config", "set", "dir", out)
        pulumi("config", "set", "count", str(a.resources))
        backends = []
        c0 = server.cpu()
        up = pulumi("up", "--yes", "--skip-preview")
        if len(os.listdir(out)) != a.resources:
            raise RuntimeError(f"{side}: {len(os.listdir(out))} files after the up")
        c1 = server.cpu()
        backends = pg.backends(db) if db else []
        destroy = pulumi("destroy", "--yes", "--skip-preview")
        if os.listdir(out):
            raise RuntimeError(f"{side}: files left after the destroy")
        c2 = server.cpu()
        m = dict(side=side, up=up, destroy=destroy, up_cpu=c1 - c0, destroy_cpu=c2 - c1,
                 load=open("/proc/loadavg").read().split()[0], backends=len(backends))
        log(f"update, {side}: up {up:.2f} s, destroy {destroy:.2f} s, server CPU "
            f"{c1 - c0:.2f} + {c2 - c1:.2f} s")
        return m
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def burners(a, pg, tmp, n):
    db, url = pg.new_database()
    root = tempfile.mkdtemp(prefix=f"burn-{n}-", dir=tmp)
    prog = os.path.join(root, "burner")
    copy_program(os.path.join(a.repo, "fixtures", "programs", "burner"), prog, a.venv)
    replicas = []
    try:
        for i in range(n):
            replicas.append(
                Replica(a.burn_server or a.server, os.path.join(root, f"r{i}"), url,
                        programs=[("burner", prog)],
                        pulumi=a.pulumi)
            )
        for r in replicas:
            wait_for(f"{r.url}/api/programs", 600)
        # One burn on each replica first (warm: the program's first run on each).
        for r in replicas:
            st, body = call("POST", f"{r.url}/api/programs/burner/burn", {})
            if st != 200:
                raise RuntimeError(f"warm-up burn: {st} {body}")

        def one(i):
            r = replicas[i % n]
            t0 = time.perf_counter()
            st, body = call("POST", f"{r.url}/api/programs/burner/burn", {})
            if st != 200:
                raise RuntimeError(f"burn {i} on replica {i % n}: {st} {body}")
            if not json.loads(body).get("destroyed"):
                raise RuntimeError(f"burn {i}: not destroyed: {body}")
            return time.perf_counter() - t0

        c0 = sum(r.cpu() for r in replicas)
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(a.burn_concurrency) as ex:
            times = list(ex.map(one, range(a.burners)))
        wall = time.perf_counter() - t0
        srv = sum(r.cpu() for r in replicas) - c0
        times.sort()
        m = dict(n=n, wall=wall, median=times[len(times) // 2], worst=times[-1], srv=srv,
                 load=open("/proc/loadavg").read().split()[0])
        log(f"burners on {n} replica(s): {wall:.1f} s for {a.burners}, median {m['median']:.1f}"
            f" s, server CPU {srv:.1f} s")
        return m
    finally:
        for r in replicas:
            r.stop()
        shutil.rmtree(root, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True)
    p.add_argument("--server", required=True, help="the release pulumi-auto-server")
    p.add_argument("--pulumi", required=True)
    p.add_argument("--venv", required=True)
    p.add_argument("--postgres", required=True, help="postgres:// URL of a server to make databases on")
    p.add_argument("--psql", default="psql")
    p.add_argument("--duration", default="15s", help="wrk's run per measurement")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--resources", type=int, default=200)
    p.add_argument("--burners", type=int, default=48)
    p.add_argument("--burn-concurrency", type=int, default=16)
    p.add_argument("--burn-server", help="another server binary for the burner batch only")
    p.add_argument("--skip", action="append", default=[], choices=["reads", "update", "burners"])
    p.add_argument("--out", default="bench/results/scale.md")
    a = p.parse_args()
    pg = Postgres(a.postgres, a.psql)
    tmp = tempfile.mkdtemp(prefix="pulumi-auto-bench-scale-")
    started = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
    lines = [
        "# Multi-replica benchmark",
        "",
        f"{os.cpu_count()} cores, load average {open('/proc/loadavg').read().split()[0]} at the"
        f" start, {started}; PostgreSQL {pg.sql('SHOW server_version')}.",
        "",
    ]
    try:
        if "reads" not in a.skip:
            rows = reads(a, pg, tmp)
            lines += [
                f"## Get stack, wrk at {a.connections} connections for {a.duration}",
                "",
                "| servers | req/s (summed) | worst p50 | worst p99 | CPU: servers | CPU: database"
                " | CPU: wrk | load before |",
                "|---|---:|---:|---:|---:|---:|---:|---|",
            ]
            for r in rows:
                db = f"{r['db']:.2f} cores" if "PostgreSQL" in r["label"] else "(in the server)"
                lines.append(
                    f"| {r['label']} | {r['rps']:.0f} | {r['p50']:.2f} ms | {r['p99']:.2f} ms "
                    f"| {r['srv']:.2f} cores | {db} | {r['wrk']:.2f} cores | {r['load']} |"
                )
            lines.append("")
        if "update" not in a.skip:
            ms = [update(a, pg, tmp, side) for side in ("sqlite", "postgres")]
            lines += [
                f"## `pulumi up` + `pulumi destroy` of {a.resources} resources through one server",
                "",
                "| database | up | destroy | server CPU, up + destroy | load before |",
                "|---|---:|---:|---:|---|",
            ]
            for m in ms:
                lines.append(
                    f"| {m['side']} | {m['up']:.2f} s | {m['destroy']:.2f} s | "
                    f"{m['up_cpu']:.2f} + {m['destroy_cpu']:.2f} s | {m['load']} |"
                )
            lines.append("")
        if "burners" not in a.skip:
            ms = [burners(a, pg, tmp, n) for n in (1, 3)]
            lines += [
                f"## {a.burners} burner jobs, {a.burn_concurrency} at a time, round-robin",
                "",
                f"Server binary: {a.burn_server or a.server}.",
                "",
                "| replicas | wall | median burn | slowest burn | server CPU | load after |",
                "|---|---:|---:|---:|---:|---|",
            ]
            for m in ms:
                lines.append(
                    f"| {m['n']} | {m['wall']:.1f} s | {m['median']:.1f} s | {m['worst']:.1f} s "
                    f"| {m['srv']:.1f} s | {m['load']} |"
                )
            lines.append("")
    finally:
        pg.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    log(f"wrote {a.out}")


if __name__ == "__main__":
    main()
