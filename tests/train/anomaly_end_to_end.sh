#!/usr/bin/env bash
# The anomaly-detection pipeline end to end on a small stand-in (ucluster-ad-spec.md 1-3): toy LHCO
# R&D events in the raw layout -> prepare-data --task lhco -> train (preset AD) -> evaluate's
# per-cluster report, and the clear errors of the pipeline's bad inputs.
#   anomaly_end_to_end.sh MAKE_TOY_EVENTS PREPARE_DATA TRAIN EVALUATE WORK_DIR
set -uo pipefail
make_events=$1
prepare=$2
train=$3
evaluate=$4
work=$5
rm -rf "$work"
mkdir -p "$work"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# expect_error WHAT PATTERN COMMAND...: the command must exit non-zero and say PATTERN.
expect_error() {
  local what=$1 pattern=$2
  shift 2
  if "$@" > "$work/err.log" 2>&1; then fail "$what: exited 0"; return; fi
  if grep -qiE "$pattern" "$work/err.log"; then echo "ok   $what: $(grep -iE "$pattern" "$work/err.log" | head -1)"
  else fail "$what: no message matching '$pattern':"; cat "$work/err.log"; fi
}

# Raw events: 1500 toy events, 30 % signal before injection; half the signal injected.
"$make_events" --events 1500 --signal-fraction 0.3 --seed 3 --out "$work/raw.h5" --quiet || fail "make-toy-events"
"$prepare" --task lhco --inject 0.5 --seed 2 --out "$work/prep" --quiet "$work/raw.h5" > "$work/prepare.log" 2>&1 \
  || { fail "prepare-data --task lhco:"; cat "$work/prepare.log"; }
for split in train test eval; do
  [ -f "$work/prep/${split}_RD_100P_2NJET.h5" ] || fail "prepare-data wrote no $split file"
done

# Training: preset AD, 3 clusters, two pre-training epochs, then a joint one.
small=(--set preset=AD --set train_file="$work/prep/train_RD_100P_2NJET.h5"
       --set test_file="$work/prep/test_RD_100P_2NJET.h5" --set epochs=3 --set pretrain_epochs=2
       --set batch_size=64 --set clusters=3 --set kmeans_n_init=2 --set threads=1 --set output_dir="$work/run")
if ! "$train" "${small[@]}" > "$work/train.log" 2>&1; then
  fail "train (preset AD) exited non-zero:"; cat "$work/train.log"
fi
grep -q "266941 trainable parameters" "$work/train.log" || fail "train: not the event model's 266,935 + 2K parameters"
lines=$(wc -l < "$work/run/metrics.jsonl" 2>/dev/null || echo 0)
if [ "$lines" -ne 3 ] || grep -qi "nan\|inf" "$work/run/metrics.jsonl"; then
  fail "expected 3 finite epochs in metrics.jsonl"; cat "$work/run/metrics.jsonl"
else
  echo "ok   train: 3 epochs, last $(tail -1 "$work/run/metrics.jsonl" | grep -o '"phase": *"[a-z]*"')"
fi

# Evaluation: every event of the eval split, the report's numbers consistent with the file.
if ! "$evaluate" --checkpoint "$work/run/checkpoint.h5" --data "$work/prep/eval_RD_100P_2NJET.h5" \
     --out "$work/eval.h5" > "$work/eval.json" 2> "$work/eval.log"; then
  fail "evaluate exited non-zero:"; cat "$work/eval.log"
fi
if python3 - "$work/eval.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
r = s["report"]
assert s["task"] == "events" and s["clusters"] == 3, "task/clusters"
assert r["events"] == s["events"] > 0, "report covers every event"
assert sum(c["events"] for c in r["clusters"]) == r["events"], "cluster sizes add up"
assert sum(c["signal"] for c in r["clusters"]) == r["signal"] > 0, "signal counts add up"
best = r["clusters"][r["best_by_truth"]]
assert best["purity"] >= r["f_in"], "the best cluster is at least as pure as the input"
assert abs(r["f_in"] - r["signal"] / r["events"]) < 1e-12, "f_in"
for name in ("mjj_gev", "mj1_gev", "tau21_j1"):
    h = s["histograms"][name]
    assert sum(map(sum, h["signal"])) + sum(map(sum, h["background"])) == r["events"], name
print(f"ok   evaluate: {r['events']} events, f_in {r['f_in']:.3f}, best cluster purity {best['purity']:.3f}")
EOF
then :; else fail "evaluate's summary:"; cat "$work/eval.json"; fi
grep -q "best by truth" "$work/eval.log" || fail "evaluate printed no report table"

# Bad inputs: each stops with a message naming the problem.
"$make_events" --events 20 --no-labels --seed 1 --out "$work/blackbox.h5" --quiet || fail "make-toy-events --no-labels"
expect_error "prepare-data on a file without labels" "no truth label column" \
  "$prepare" --task lhco --out "$work/bb" "$work/blackbox.h5"
[ -e "$work/bb/train_RD_100P_2NJET.h5" ] && fail "prepare-data left an output behind for a bad input"
expect_error "prepare-data on a prepared event file (wrong columns)" "df|pandas|column|layout" \
  "$prepare" --task lhco --out "$work/bb2" "$work/prep/train_RD_100P_2NJET.h5"
expect_error "preset AD on toy jets (no event files)" "needs prepared event files" \
  "$train" --set preset=AD --set output_dir="$work/bad1"
expect_error "evaluate of the event model on a jet-task file" "not a prepared event file|event model" \
  "$evaluate" --checkpoint "$work/run/checkpoint.h5" --data "$work/raw.h5" --out "$work/bad.h5"
[ -e "$work/bad.h5" ] && fail "evaluate left an output behind for a bad input"
expect_error "too many clusters" "clusters" "$train" "${small[@]}" --set clusters=9
expect_error "the jet model on event files" "is a prepared event file; train it with preset AD" \
  "$train" --set train_file="$work/prep/train_RD_100P_2NJET.h5" --set test_file="$work/prep/test_RD_100P_2NJET.h5" \
  --set output_dir="$work/bad2"

if [ "$failures" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
