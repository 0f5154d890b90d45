# Sourced by the train_*.sh tests after their arguments TRAIN_EXECUTABLE WORK_DIR: sets $train,
# a fresh $work and the failure count $failures; finish prints the summary line and exits 1 after
# any failure.
set -uo pipefail
train=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
failures=0
finish() {
  if [ "$failures" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
}
