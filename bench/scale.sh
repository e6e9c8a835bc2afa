#!/usr/bin/env bash
# The multi-replica benchmark: get-stack throughput of 1, 2 and 3 pulumi-auto-server
# replicas on one PostgreSQL (and one SQLite server for reference) under wrk at 64
# connections on loopback; the same 200-resource `pulumi up` + `destroy` through one server
# on SQLite and on PostgreSQL; 48 burner jobs, 16 at a time, on 1 and on 3 replicas.
# bench/scale_driver.py says how each is measured; the numbers are in docs/benchmarks.md.
#
#   bench/scale.sh                        # all three
#   bench/scale.sh --skip burners         # without the burner batch
#   DURATION=20s bench/scale.sh           # wrk's run per measurement (default 15s)
#   bench/scale.sh --help                 # every option
#
# Installs what it needs first (the pinned CLI, the shared virtualenv), starts the local
# PostgreSQL (scripts/start-postgres; each measurement gets a fresh database, dropped at
# the end) and builds the server in release mode. Needs wrk (Debian: apt-get install -y
# wrk). Not a test: nothing fails on speed, but a wrong answer fails the run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
case " $* " in
  *" -h "*|*" --help "*) exec python3 bench/scale_driver.py --help ;;
esac
command -v wrk >/dev/null || { echo "bench/scale.sh needs wrk (apt-get install -y wrk)" >&2; exit 1; }
bin=$(scripts/install-pulumi | tail -n 1)
venv=$(scripts/prepare-python | tail -n 1)
pg_url=$(scripts/start-postgres | tail -n 1)
psql=$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
cargo build --release -p pulumi-auto-server >&2
target=${CARGO_TARGET_DIR:-$repo/target}
exec python3 bench/scale_driver.py --repo "$repo" --pulumi "$bin/pulumi" --venv "$venv" \
  --server "$target/release/pulumi-auto-server" --postgres "$pg_url" --psql "$psql" \
  --duration "${DURATION:-15s}" "$@"
