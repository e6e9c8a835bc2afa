#!/usr/bin/env bash
# Runs every fuzz target in turn for SECONDS each (default 300), seeded by seed.sh, and
# prints each one's executions, speed and outcome. Logs: fuzz/target/fuzz-logs/<target>.log.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -uo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
cd "$fuzz/.."
seconds=${1:-300}
"$fuzz/seed.sh" >/dev/null
cargo +nightly fuzz build >/dev/null 2>&1 || cargo +nightly fuzz build
mkdir -p "$fuzz/target/fuzz-logs"
for target in event_line json_outputs yaml_settings version; do
  case $target in
    event_line | json_outputs) dict=(-dict="$fuzz/corpus/json.dict") ;;
    yaml_settings) dict=(-dict="$fuzz/corpus/yaml.dict") ;;
    *) dict=() ;;
  esac
  log="$fuzz/target/fuzz-logs/$target.log"
  cargo +nightly fuzz run "$target" "$fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1
  rc=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  secs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE '[0-9]+ second' | grep -oE '[0-9]+')
  cov=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+')
  crashes=$(find "$fuzz/artifacts/$target" -type f 2>/dev/null | wc -l)
  echo "$target: exit $rc, ${runs:-?} runs in ${secs:-?} s ($(( ${runs:-0} / ${secs:-1} )) exec/s), $cov, artifacts: $crashes"
done
