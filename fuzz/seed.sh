#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from what the real CLI printed: fixtures/cli/ (recorded by
# scripts/record-fixtures), the programs' Pulumi.yaml files, and fuzz/seeds/ (recorded by
# fuzz/record-seeds.sh). The corpus is not committed; re-run this after re-recording.
set -euo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$fuzz")
cli="$repo/fixtures/cli"
seeds="$fuzz/seeds"
corpus="$fuzz/corpus"
mkdir -p "$corpus"/{event_line,json_outputs,yaml_settings,version}

# byte N: the single byte N (the selector the dispatching targets read first).
byte() { printf "\\$(printf '%03o' "$1")"; }

# event_line: every line of every recorded event log, and each log's first five lines.
for log in "$cli"/*.events.jsonl; do
  base=$(basename "$log" .events.jsonl)
  n=0
  while IFS= read -r line || [[ -n $line ]]; do
    printf '%s\n' "$line" >"$corpus/event_line/$base-$n"
    n=$((n + 1))
  done <"$log"
  head -n 5 "$log" >"$corpus/event_line/$base-head"
done

# json_outputs: selector byte = index in JSON_PARSERS (fuzz/src/lib.rs), then the document.
json() { # json INDEX NAME FILE...
  local index=$1 name=$2; shift 2
  { byte "$index"; cat "$@"; } >"$corpus/json_outputs/$name"
}
json 0 outputs "$cli/stack-output.stdout"
json 0 outputs-secrets "$cli/stack-output-secrets.stdout"
{ byte 1; cat "$cli/stack-output.stdout"; byte 0; cat "$cli/stack-output-secrets.stdout"; } \
  >"$corpus/json_outputs/outputs-revealed"
json 2 history "$cli/stack-history.stdout"
json 3 config "$cli/config.stdout"
json 3 config-secrets "$cli/config-secrets.stdout"
json 4 config-get "$cli/config-get.stdout"
json 5 stack-ls "$cli/stack-ls.stdout"
json 6 stack-tags "$cli/stack-tags.stdout"
json 7 preview "$cli/preview.json"
json 7 preview-changes "$cli/preview-changes.json"
# What `pulumi up --json` prints without --skip-preview: the digest, then events.
json 8 preview-output "$cli/preview.json" <(head -n 3 "$cli/up.events.jsonl")
json 8 preview-output-text "$cli/err-program-failure.stdout"
json 9 stack-export "$cli/stack-export.stdout"
json 9 stack-export-secrets "$cli/stack-export-secrets.stdout"
json 10 plugin-ls "$seeds/plugin-ls.json"
json 11 whoami "$cli/whoami.stdout"

# yaml_settings: selector 0 = project, 1 = stack settings (YAML_PARSERS).
for project in "$repo"/fixtures/programs/*/Pulumi.yaml; do
  name=$(basename "$(dirname "$project")")
  { byte 0; cat "$project"; } >"$corpus/yaml_settings/project-$name"
done
{ byte 1; cat "$seeds/Pulumi.dev.yaml"; } >"$corpus/yaml_settings/stack-dev"

# version
cp "$seeds/version.txt" "$corpus/version/pulumi-version"
cp "$repo/PULUMI_VERSION" "$corpus/version/pinned"

# libFuzzer dictionaries: every JSON key and string the recordings hold, plus syntax.
{
  printf '"%s"\n' '{' '}' '[' ']' ':' ',' 'null' 'true' 'false' '-0' '1e999' '-9223372036854775809' \
    '18446744073709551616' '0.5' '\\u0000' '\\ud800' '\\"'
  grep -ohE '"[A-Za-z0-9_:$./ -]{1,40}"' "$cli"/*.json "$cli"/*.jsonl "$cli"/*.stdout "$seeds"/*.json |
    sort -u | sed 's/"/\\"/g; s/.*/"&"/'
} >"$corpus/json.dict"
{
  printf '"%s"\n' '---' '...' '- ' ': ' '? ' '{' '}' '[' ']' '&a ' '*a' '<<: ' '!!str ' '!!binary ' \
    '!tag ' '|' '>' '~' 'null' 'secure: ' 'v1:' '#'
  grep -ohE '^ *[A-Za-z0-9_:.-]+:' "$repo"/fixtures/programs/*/Pulumi.yaml "$seeds"/*.yaml |
    sed 's/^ *//' | sort -u | sed 's/.*/"&"/'
} >"$corpus/yaml.dict"

for target in event_line json_outputs yaml_settings version; do
  echo "$target: $(find "$corpus/$target" -type f | wc -l) seeds, $(du -sh "$corpus/$target" | cut -f1)"
done
