#!/usr/bin/env bash
# tools/tf-reference check on the golden jets: the original TensorFlow graph, the engine and the
# golden data within their stated tolerances. Runs only where tools/tf-reference has already set up
# its TensorFlow environment and the published checkpoint (with its .meta graph) is beside the
# checkout; otherwise exits 77 (reported as skipped) saying which is missing. TensorFlow is never
# installed by the tests.
set -uo pipefail
root=$1 build=$2
venv=${UCLUSTER_TF_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ucluster/tf-reference-cpu}
meta=$root/../shared/reference/ucluster-published/cluster.ckpt.meta
if [ ! -f "$venv/.complete" ]; then
  echo "SKIPPED: no TensorFlow environment at $venv (run tools/tf-reference once to set it up)"
  exit 77
fi
if [ ! -f "$meta" ]; then
  echo "SKIPPED: the published checkpoint's graph $meta is not beside the checkout"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
UCLUSTER_TF_VENV=$venv "$root/tools/tf-reference" check --build "$build" --out "$out/check.json" || exit 1
# The report must hold every pair, with the training step compared parameter by parameter.
"$venv/bin/python" - "$out/check.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["comparisons"]
pairs = {(r["case"], r["pair"]) for r in rows}
need = {("golden", "engine / TF float32"), ("golden", "TF float64 / golden"), ("golden step", "engine / TF float64"),
        ("golden step", "TF float32 / TF float64")}
missing = need - pairs
assert not missing, f"missing comparisons: {missing}"
steps = [r for r in rows if r["case"] == "golden step" and r["pair"] == "engine / TF float64" and "max_abs_strong_gradient" in r]
assert len(steps) == 63, f"{len(steps)} parameters compared after the step, expected 63"
assert all(r["ok"] for r in rows), "a comparison failed"
print(f"tf-reference check: {len(rows)} comparisons, all within tolerance")
PY
