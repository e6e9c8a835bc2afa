"""The Python Automation API side of the end-to-end benchmark (bench/run).

Runs the same flow as examples/bench_flow.rs with the pinned `pulumi` Python SDK
(`pulumi.automation`), driving the same CLI binary: create or select the stack, set 3
config values in one call (one secret), up, read the outputs from the up result, destroy
with `remove=True` (the stack is removed after the destroy).

    python flow_python.py single   --cli-root DIR --work-dir DIR --backend URL --home DIR
                                   --stack NAME --config K=V... [--secret-key K]
                                   --expect-count N --result FILE
    python flow_python.py parallel --cli-root DIR --work-dir DIR --root DIR --stacks N
                                   --config K=V... [--secret-key K] --expect-count N
                                   --result FILE

`--cli-root DIR` is the directory holding `bin/pulumi` (`PulumiCommand(root=DIR)`); one
PulumiCommand, so one `pulumi version`, is shared by every workspace. `parallel` runs N
flows on a thread pool of N workers, stack `par-<i>` with its own file backend and
PULUMI_HOME under `<root>/stack-<i>/` and config `dir` = `<root>/stack-<i>/out`.

The passphrase is $PULUMI_CONFIG_PASSPHRASE; the secret's value is $BENCH_SECRET. The
result file gets the flow's own time, the time spent importing the SDK, this process's
peak resident set size (VmHWM; the CLI's processes are not included) and the checks.
"""

import time

_STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import pulumi.automation as auto  # noqa: E402

_IMPORTED = time.perf_counter()


def flow(cmd, work_dir, backend, home, name, config, secret, expect_count):
    ws = auto.LocalWorkspace(
        work_dir=work_dir,
        pulumi_home=home,
        env_vars={
            "PULUMI_BACKEND_URL": backend,
            "PULUMI_CONFIG_PASSPHRASE": os.environ["PULUMI_CONFIG_PASSPHRASE"],
        },
        pulumi_command=cmd,
    )
    stack = auto.Stack.create_or_select(name, ws)
    values = {k: auto.ConfigValue(value=v) for k, v in config}
    if secret:
        values[secret[0]] = auto.ConfigValue(value=secret[1], secret=True)
    stack.set_all_config(values)

    up = stack.up()
    outputs = up.outputs
    count = outputs.get("count")
    count_ok = count is not None and count.value == expect_count
    secret_ok = True
    if secret and secret[0] in outputs:
        out = outputs[secret[0]]
        secret_ok = out.secret and out.value == secret[1]

    stack.destroy(remove=True)
    return {"count_ok": count_ok, "secret_ok": secret_ok, "outputs": len(outputs)}


def peak_rss_kib():
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["single", "parallel"])
    p.add_argument("--cli-root", required=True)
    p.add_argument("--work-dir", required=True)
    p.add_argument("--backend")
    p.add_argument("--home")
    p.add_argument("--stack", default="bench")
    p.add_argument("--root")
    p.add_argument("--stacks", type=int, default=0)
    p.add_argument("--config", action="append", default=[])
    p.add_argument("--secret-key")
    p.add_argument("--expect-count", type=int, required=True)
    p.add_argument("--result", required=True)
    a = p.parse_args()

    config = [tuple(kv.split("=", 1)) for kv in a.config]
    secret = (a.secret_key, os.environ["BENCH_SECRET"]) if a.secret_key else None
    cmd = auto.PulumiCommand(root=a.cli_root)

    if a.mode == "single":
        if not (a.backend and a.home):
            p.error("single needs --backend and --home")
        checks = [flow(cmd, a.work_dir, a.backend, a.home, a.stack, config, secret, a.expect_count)]
    else:
        if not (a.root and a.stacks > 0):
            p.error("parallel needs --root and --stacks N > 0")

        def one(i):
            d = os.path.join(a.root, f"stack-{i:02d}")
            cfg = [(k, v) for k, v in config if k != "dir"] + [("dir", os.path.join(d, "out"))]
            return flow(
                cmd,
                a.work_dir,
                "file://" + os.path.join(d, "state"),
                os.path.join(d, "home"),
                f"par-{i:02d}",
                cfg,
                secret,
                a.expect_count,
            )

        with ThreadPoolExecutor(max_workers=a.stacks) as pool:
            checks = list(pool.map(one, range(a.stacks)))

    report = {
        "flow_seconds": time.perf_counter() - _STARTED,
        "import_seconds": _IMPORTED - _STARTED,
        "peak_rss_kib": peak_rss_kib(),
        "flows": len(checks),
        "count_ok": all(c["count_ok"] for c in checks),
        "secret_ok": all(c["secret_ok"] for c in checks),
        "outputs": [c["outputs"] for c in checks],
    }
    with open(a.result, "w", encoding="utf-8") as f:
        json.dump(report, f)


if __name__ == "__main__":
    try:
        main()
    except auto.errors.CommandError as e:
        # The SDK's error carries the command line, which holds the secret config value
        # (set_all_config puts it on argv): redact it.
        text = str(e)
        if os.environ.get("BENCH_SECRET"):
            text = text.replace(os.environ["BENCH_SECRET"], "[secret]")
        print(f"flow_python: {type(e).__name__}: {text}", file=sys.stderr)
        sys.exit(1)
