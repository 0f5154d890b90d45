#!/usr/bin/env bash
# Bad input on 2 ranks: every case must end every rank with a clear message naming the problem,
# a non-zero exit status, no hang and no checkpoint; and a stuck rank must end the job at the
# collective timeout.
#   train_bad_input_mpi.sh TRAIN_EXECUTABLE TIMEOUT_PROBE WORK_DIR MPIRUN ARGS...
set -uo pipefail
train=$1
probe=$2
work=$3
shift 3
mpirun=("$@")
rm -rf "$work"
mkdir -p "$work"
failed=0
small=(--set toy_jets=300 --set epochs=1 --set pretrain_epochs=1 --set threads=1)

# expect NAME MESSAGE COUNT CMD...: non-zero exit within the time limit, MESSAGE at least COUNT
# times in the output (once per rank), and no checkpoint in the case's output directory.
expect() {
  local name=$1 message=$2 count=$3
  shift 3
  local out="$work/$name"
  mkdir -p "$out"
  timeout 120 "$@" --set output_dir="$out/run" > "$out/log" 2>&1
  local status=$?
  local seen
  seen=$(grep -c -F -- "$message" "$out/log")
  if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || [ "$seen" -lt "$count" ] || [ -e "$out/run/checkpoint.h5" ]; then
    echo "FAIL $name: status $status, message '$message' seen $seen time(s) (want $count)"
    tail -n 20 "$out/log"
    failed=$((failed + 1))
  else
    echo "ok   $name: status $status, '$message' on $seen rank(s)"
  fi
}

expect different-configurations "ranks started with different configurations" 2 \
  "${mpirun[@]}" -np 1 "$train" "${small[@]}" --set seed=1 --set output_dir="$work/different-configurations/run" : \
  -np 1 "$train" "${small[@]}" --set seed=2
expect batch-not-divisible "does not divide evenly among 2 ranks" 2 \
  "${mpirun[@]}" -np 2 "$train" "${small[@]}" --set batch_size=63
expect fewer-jets-than-ranks-times-batch "no full batch of 256 rows per epoch: 240 rows over 2 rank(s)" 2 \
  "${mpirun[@]}" -np 2 "$train" "${small[@]}" --set batch_size=512
expect no-gpu-for-cuda-ranks "no usable CUDA device" 2 \
  "${mpirun[@]}" -np 2 "$train" "${small[@]}" --set device=cuda

# The stuck rank: rank 0's all-reduce gives up after 2 s and aborts the job.
start=$(date +%s)
timeout 100 "${mpirun[@]}" -np 2 "$probe" > "$work/timeout.log" 2>&1
status=$?
elapsed=$(( $(date +%s) - start ))
want="rank 0 of 2, collective 'probe all-reduce', global step 7 did not complete within 2 s"
if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || ! grep -q -F "$want" "$work/timeout.log" || [ "$elapsed" -gt 60 ]; then
  echo "FAIL collective-timeout: status $status after ${elapsed} s"
  cat "$work/timeout.log"
  failed=$((failed + 1))
else
  echo "ok   collective-timeout: status $status after ${elapsed} s: $want"
fi

echo "$failed failed"
[ "$failed" -eq 0 ]
