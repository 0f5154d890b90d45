#!/usr/bin/env bash
# The reference figures of the embeddable library: makes the published-weights model (the authors'
# cluster.ckpt -> import-tf-checkpoint -> export-model) in a temporary folder, then runs
# embed_latency on it with the golden jets and the engine peer on the same weights.
#   bench/embed_latency.sh BUILD_DIR [embed_latency options...]     (e.g. --repeats 9 --json out.json)
# Needs the targets import-tf-checkpoint, export-model and embed_latency of BUILD_DIR, and
# ../shared/reference/ucluster-published/ beside the repository (or UCLUSTER_PUBLISHED=PREFIX).
set -euo pipefail
build=${1:?usage: bench/embed_latency.sh BUILD_DIR [embed_latency options...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
ckpt=${UCLUSTER_PUBLISHED:-$root/../shared/reference/ucluster-published/cluster.ckpt}
[ -f "$ckpt.index" ] || { echo "no published checkpoint at $ckpt (set UCLUSTER_PUBLISHED)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/tools/import-tf-checkpoint" "$ckpt" "$tmp/published.h5" >/dev/null
"$build/tools/export-model" "$tmp/published.h5" "$tmp/published.ucm" >&2
"$build/bench/embed_latency" --model "$tmp/published.ucm" --checkpoint "$tmp/published.h5" "$@"
