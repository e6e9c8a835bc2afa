#!/usr/bin/env python3
"""Seeds a stopped pulumi-auto-server's SQLite database for the REST benchmark (bench/rest.sh).

Direct SQL inserts, in the shapes the store itself writes (crates/pulumi-auto-server/src/
store.rs): for each stack a `stacks` row (tags as a JSON object, version 1, the data key
copied from a template stack the server made through its API, so every stack has a real
wrapped key), its version-1 `checkpoints` row, one succeeded `updates` row (program,
config and metadata as the CLI's update request gives them), and that update's
`engine_events` (sequence numbers from 0, each body an engine event as the CLI uploads it:
`sequence`, `timestamp` and one payload: a prelude, resource pre/outputs pairs, a
diagnostic now and then, a summary at the end).

Inserting through the API would take the CLI's path (one request per batch of events,
each under an update's lease) and hours for a million events; the SQL path takes seconds
and gives the same rows. The server must not be running while this runs.

usage: rest_seed.py DB --org ORG --template STACK_ID --stacks N --events M --big B
  N stacks in 100 projects; M events in all, B of them in the update of the first stack
  (`proj-000/stack-00000`: the long update), the rest spread evenly over the others.
Prints the long update's id and a short update's id, as `big=ID small=ID`.
"""

import argparse
import json
import sqlite3
import time
import uuid


def event_bodies(start_ts, n, stack, project):
    """n engine-event bodies of one update, in order (sequence 0..n-1)."""
    pre = (
        '{{"sequence":{seq},"timestamp":{ts},"resourcePreEvent":{{"metadata":{{'
        '"op":"create","urn":"urn:pulumi:{stack}::{project}::files:index:File::file-{i}",'
        '"type":"files:index:File","old":null,"new":{{"type":"files:index:File",'
        '"urn":"urn:pulumi:{stack}::{project}::files:index:File::file-{i}","custom":true,'
        '"id":"","parent":"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}",'
        '"provider":"","inputs":{{"path":"/srv/files/file-{i}.txt","content":"hello {i}"}},'
        '"outputs":{{}}}},"detailedDiff":null,"logical":true,"provider":""}}}}}}'
    )
    outs = (
        '{{"sequence":{seq},"timestamp":{ts},"resOutputsEvent":{{"metadata":{{'
        '"op":"create","urn":"urn:pulumi:{stack}::{project}::files:index:File::file-{i}",'
        '"type":"files:index:File","old":null,"new":{{"type":"files:index:File",'
        '"urn":"urn:pulumi:{stack}::{project}::files:index:File::file-{i}","custom":true,'
        '"id":"/srv/files/file-{i}.txt","outputs":{{"path":"/srv/files/file-{i}.txt",'
        '"size":10}}}},"logical":true,"provider":""}}}}}}'
    )
    diag = (
        '{{"sequence":{seq},"timestamp":{ts},"diagnosticEvent":{{"urn":"","prefix":"",'
        '"message":"wrote file-{i}\\n","color":"never","severity":"info","ephemeral":false}}}}'
    )
    for seq in range(n):
        ts = start_ts + seq // 100
        i = (seq - 1) // 2
        if seq == 0:
            yield seq, '{"sequence":0,"timestamp":%d,"preludeEvent":{"config":{}}}' % ts
        elif seq == n - 1:
            yield seq, (
                '{"sequence":%d,"timestamp":%d,"summaryEvent":{"maybeCorrupt":false,'
                '"durationSeconds":%d,"resourceChanges":{"create":%d},"PolicyPacks":{}}}'
                % (seq, ts, n // 100, n // 2)
            )
        elif seq % 50 == 0:
            yield seq, diag.format(seq=seq, ts=ts, i=i)
        elif seq % 2:
            yield seq, pre.format(seq=seq, ts=ts, i=i, stack=stack, project=project)
        else:
            yield seq, outs.format(seq=seq, ts=ts, i=i, stack=stack, project=project)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--org", default="organization")
    ap.add_argument("--template", required=True, help="id of a stack the server created")
    ap.add_argument("--stacks", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=200_000)
    a = ap.parse_args()

    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    (org_id,) = db.execute("SELECT id FROM organizations WHERE name = ?", (a.org,)).fetchone()
    (data_key,) = db.execute("SELECT data_key FROM stacks WHERE id = ?", (a.template,)).fetchone()
    now = int(time.time())
    per_stack = (a.events - a.big) // max(a.stacks - 1, 1)
    extra = (a.events - a.big) - per_stack * max(a.stacks - 1, 1)
    checkpoint = json.dumps(
        {"version": 3, "deployment": {"manifest": {"time": "2026-01-01T00:00:00Z",
                                                  "magic": "", "version": "v3.259.0"},
                                      "resources": []}}
    )
    program = json.dumps({"name": "", "runtime": "python", "main": "", "description": ""})
    t0 = time.time()
    db.execute("BEGIN")
    big_id = small_id = None
    total = 0
    for k in range(a.stacks):
        project = "proj-%03d" % (k % 100)
        stack = "stack-%05d" % k
        sid = uuid.uuid4().hex
        uid = uuid.uuid4().hex
        n = a.big if k == 0 else per_stack + (1 if k <= extra else 0)
        created = now - 86_400 + k
        tags = json.dumps({"pulumi:project": project, "team": "team-%d" % (k % 7)})
        db.execute(
            "INSERT INTO stacks (id, org_id, project, name, tags, version, resource_count, "
            "last_update, active_update, data_key, config, created) "
            "VALUES (?, ?, ?, ?, ?, 1, ?, ?, NULL, ?, NULL, ?)",
            (sid, org_id, project, stack, tags, n // 2, created + 60, data_key, created),
        )
        db.execute(
            "INSERT INTO checkpoints (stack_id, version, deployment) VALUES (?, 1, ?)",
            (sid, checkpoint),
        )
        meta = json.dumps({"message": "seeded update %d" % k,
                           "environment": {"exec.kind": "cli"}})
        db.execute(
            "INSERT INTO updates (id, stack_id, kind, status, version, requested_by, program, "
            "config, metadata, created, start_time, end_time, lease_hash, lease_expires, "
            "resource_changes, resource_count) VALUES (?, ?, 'update', 'succeeded', 1, "
            "'admin', ?, '{}', ?, ?, ?, ?, NULL, NULL, ?, ?)",
            (uid, sid, program, meta, created, created, created + 60,
             json.dumps({"create": n // 2}), n // 2),
        )
        db.executemany(
            "INSERT INTO engine_events (update_id, seq, body) VALUES (?, ?, ?)",
            ((uid, seq, body) for seq, body in event_bodies(created, n, stack, project)),
        )
        total += n
        if k == 0:
            big_id = uid
        elif k == 1:
            small_id = uid
    # The template only lent its data key: N stacks in all.
    db.execute("DELETE FROM stacks WHERE id = ?", (a.template,))
    db.execute("COMMIT")
    # No ANALYZE: the server never runs one, so the plans measured are those it really gets.
    print(
        "seeded %d stacks, %d updates, %d events in %.1f s"
        % (a.stacks, a.stacks, total, time.time() - t0),
        file=__import__("sys").stderr,
    )
    print("big=%s small=%s" % (big_id, small_id))


if __name__ == "__main__":
    main()
