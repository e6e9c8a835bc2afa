#!/usr/bin/env bash
# Records, from the real pinned pulumi CLI, the parser inputs that fixtures/cli/ does not
# hold: `pulumi version`, `pulumi plugin ls --json`, and a `Pulumi.<stack>.yaml` written by
# `pulumi config set` (plain, secret and path values). Output: fuzz/seeds/.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$("$repo/scripts/install-pulumi" | tail -n 1)
out="$repo/fuzz/seeds"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$out" "$root/state" "$root/home"
export PATH="$bin:$PATH" PULUMI_HOME="$root/home" PULUMI_BACKEND_URL="file://$root/state" \
  PULUMI_CONFIG_PASSPHRASE=seed-passphrase PULUMI_SKIP_UPDATE_CHECK=true \
  PULUMI_AUTOMATION_API=true

pulumi version >"$out/version.txt"
# The plugins the pinned install provides (bundled ones refuse), installed here.
for plugin in "$bin"/pulumi-resource-*; do
  name=${plugin##*/pulumi-resource-}
  pulumi plugin install resource "$name" 0.0.1 --file "$plugin" --non-interactive >/dev/null 2>&1 || true
done
# A second version with pre-release metadata.
pulumi plugin install resource files 1.2.3-alpha.1+build.5 --file "$bin/pulumi-resource-files" \
  --non-interactive >/dev/null
pulumi plugin ls --json --non-interactive >"$out/plugin-ls.json"

cp -r "$repo/fixtures/programs/files" "$root/files"
rm -rf "$root/files/venv" "$root/files"/Pulumi.*.yaml
cd "$root/files"
pulumi stack init dev --non-interactive >/dev/null
pulumi config set --stack dev dir /tmp/seed-out --non-interactive
pulumi config set --stack dev --secret token seed-token --non-interactive
pulumi config set --stack dev --path 'nested.list[0]' first --non-interactive
pulumi config set --stack dev --path 'nested.inner.flag' true --non-interactive
pulumi config set --stack dev --secret --path 'nested.inner.key' seed-key --non-interactive
cp Pulumi.dev.yaml "$out/Pulumi.dev.yaml"
ls -l "$out" >&2
