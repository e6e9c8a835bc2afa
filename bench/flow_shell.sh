#!/usr/bin/env bash
# The floor of the end-to-end benchmark (bench/run): the shortest hand-written sequence of
# `pulumi` commands for the flow, five processes:
#
#   pulumi stack init STACK
#   PULUMI_OPTION_SECRET='"KEY=VALUE"' pulumi config set-all --stack STACK --plaintext K=V...
#   pulumi up --stack STACK --yes --skip-preview
#   pulumi stack output --stack STACK --json --show-secrets
#   pulumi destroy --stack STACK --yes --skip-preview --remove
#
# The secret goes in the environment (the CLI reads any flag from PULUMI_OPTION_<FLAG>),
# not on the command line; `destroy --remove` removes the stack after its resources.
#
#   flow_shell.sh single   STACK RESULT OUTPUTS K=V...
#   flow_shell.sh parallel ROOT N RESULT K=V...
#
# Environment: PULUMI (the CLI to run), PULUMI_BACKEND_URL and PULUMI_HOME (single),
# PULUMI_CONFIG_PASSPHRASE, BENCH_SECRET_KEY and BENCH_SECRET (optional: the secret).
# `parallel` runs N flows as background jobs, stack `par-<i>` with its own backend and
# PULUMI_HOME under ROOT/stack-<i>/ (directories made beforehand) and config
# dir=ROOT/stack-<i>/out; each writes its
# outputs to ROOT/stack-<i>/outputs.json. RESULT gets this shell's start and end times and
# its peak resident set size (VmHWM; the CLI's processes are not included). Apart from
# the `pulumi` processes (and a fork per background job), only shell builtins run.
set -euo pipefail
started=$EPOCHREALTIME

flow() { # STACK OUTPUTS-FILE K=V...
  local stack=$1 outputs_file=$2 kv outputs
  shift 2
  local plain=()
  for kv in "$@"; do plain+=(--plaintext "$kv"); done
  "$PULUMI" stack init "$stack" --non-interactive >/dev/null
  if [[ -n ${BENCH_SECRET_KEY:-} ]]; then
    PULUMI_OPTION_SECRET="\"$BENCH_SECRET_KEY=$BENCH_SECRET\"" \
      "$PULUMI" config set-all --stack "$stack" "${plain[@]}" --non-interactive
  else
    "$PULUMI" config set-all --stack "$stack" "${plain[@]}" --non-interactive
  fi
  "$PULUMI" up --stack "$stack" --yes --skip-preview --non-interactive >/dev/null
  outputs=$("$PULUMI" stack output --stack "$stack" --json --show-secrets --non-interactive)
  "$PULUMI" destroy --stack "$stack" --yes --skip-preview --remove --non-interactive >/dev/null
  printf '%s\n' "$outputs" >"$outputs_file"
}

peak_rss_kib() { # sets `peak` to this shell's VmHWM (builtins only: no process)
  local key value _
  peak=null
  while read -r key value _; do
    if [[ $key == VmHWM: ]]; then peak=$value; return; fi
  done </proc/$$/status
}

case ${1:-} in
  single)
    stack=$2 result=$3 outputs=$4
    shift 4
    flow "$stack" "$outputs" "$@"
    ;;
  parallel)
    root=$2 n=$3 result=$4
    shift 4
    config=()
    for kv in "$@"; do [[ $kv == dir=* ]] || config+=("$kv"); done
    pids=()
    for ((i = 0; i < n; i++)); do
      printf -v d '%s/stack-%02d' "$root" "$i"
      printf -v name 'par-%02d' "$i"
      (
        export PULUMI_BACKEND_URL="file://$d/state" PULUMI_HOME="$d/home"
        flow "$name" "$d/outputs.json" "${config[@]}" "dir=$d/out"
      ) &
      pids+=($!)
    done
    failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    ((failed == 0)) || { echo "flow_shell: a parallel flow failed" >&2; exit 1; }
    ;;
  *)
    echo "usage: flow_shell.sh single STACK RESULT OUTPUTS K=V... | parallel ROOT N RESULT K=V..." >&2
    exit 2
    ;;
esac

ended=$EPOCHREALTIME
peak_rss_kib
printf '{"started": %s, "ended": %s, "peak_rss_kib": %s}\n' "$started" "$ended" "$peak" >"$result"
