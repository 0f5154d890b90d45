#!/usr/bin/env bash
# `train` refuses bad input with one clear message and a non-zero exit, and leaves no checkpoint
# holding NaN behind.   train_bad_input.sh TRAIN_EXECUTABLE WORK_DIR
source "$(dirname "$0")/script_test.sh"
expect_failure() {  # expect_failure NAME PATTERN ARGS...
  local name=$1 pattern=$2
  shift 2
  "$train" "$@" > "$work/$name.log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ] || ! grep -q "$pattern" "$work/$name.log"; then
    echo "FAIL $name: exit $rc, expected a message matching '$pattern':"
    cat "$work/$name.log"
    failures=$((failures + 1))
  else
    echo "ok   $name: $(grep "$pattern" "$work/$name.log" | head -1)"
  fi
}
small=(--set toy_jets=300 --set batch_size=64 --set epochs=2 --set pretrain_epochs=1 --set kmeans_n_init=2 --set threads=1)
expect_failure unknown_key "unknown config key 'lerning_rate'" --set lerning_rate=0.1
expect_failure negative_lr "'learning_rate' must be > 0" --set learning_rate=-1
expect_failure zero_batch "'batch_size' must be > 0" --set batch_size=0
expect_failure missing_config "config file .* does not exist" --config "$work/none.json"
expect_failure missing_data "cannot\|No such\|does not exist\|not found" --set train_file="$work/no.h5" --set test_file="$work/no.h5"
expect_failure resume_without_checkpoint "no checkpoint" "${small[@]}" --set output_dir="$work/fresh" --resume
expect_failure batch_larger_than_data "no full batch of 100000 rows" "${small[@]}" --set batch_size=100000 --set output_dir="$work/big"
# A diverging run (absurd learning rate) stops at the first non-finite loss, naming where.
expect_failure nan_loss "the loss is .* at epoch 0, batch .*last good checkpoint" "${small[@]}" --set learning_rate=1e30 \
  --set output_dir="$work/nan"
if [ -e "$work/nan/checkpoint.h5" ]; then
  echo "FAIL nan_loss: a checkpoint was written"
  failures=$((failures + 1))
fi
finish
