#!/usr/bin/env bash
# `train` runs end to end with either edge path of the GAP blocks (config key edge_path) and with
# auto, says which one training and evaluation use (auto on the CPU: training unfused, evaluation
# fused, model/ucluster_model.h), and writes finite losses for every epoch.
#   train_edge_paths.sh TRAIN_EXECUTABLE WORK_DIR
# (The two paths' numerical agreement is tested op by op in tests/kernels/test_edge_attention.cpp and
# model-wide by the golden tests, which run both paths.)
source "$(dirname "$0")/script_test.sh"
small=(--set toy_jets=300 --set batch_size=64 --set epochs=2 --set pretrain_epochs=1 --set kmeans_n_init=2 --set threads=1)
declare -A says=([fused]="edge path fused (training fused, evaluation fused)"
                 [unfused]="edge path unfused (training unfused, evaluation unfused)"
                 [auto]="edge path auto (training unfused, evaluation fused)")
for path in fused unfused auto; do
  out=$work/$path
  if ! "$train" "${small[@]}" --set edge_path=$path --set output_dir="$out" > "$work/$path.log" 2>&1; then
    echo "FAIL $path: train exited non-zero:"; cat "$work/$path.log"; failures=$((failures + 1)); continue
  fi
  if ! grep -qF "${says[$path]}" "$work/$path.log"; then
    echo "FAIL $path: the log does not say \"${says[$path]}\":"; grep "edge path" "$work/$path.log"
    failures=$((failures + 1))
  fi
  lines=$(wc -l < "$out/metrics.jsonl")
  if [ "$lines" -ne 2 ] || grep -qi "nan\|inf" "$out/metrics.jsonl"; then
    echo "FAIL $path: expected 2 finite epochs in metrics.jsonl, got:"; cat "$out/metrics.jsonl"; failures=$((failures + 1))
  else
    echo "ok   $path: $(grep -o '"loss_total": *[0-9.e+-]*' "$out/metrics.jsonl" | head -1)"
  fi
done
finish
