#!/usr/bin/env bash
# Weak scaling on this machine's CPU: training throughput on 1 and 2 MPI ranks with the per-rank
# batch and the threads per rank held fixed, and the parallel efficiency
#   efficiency = jets/s on 2 ranks / (2 x jets/s on 1 rank).
# Prints one JSON object.   bench/scaling.sh BUILD_DIR [PER_RANK_BATCH] [STEPS] [THREADS_PER_RANK]
set -euo pipefail
build=${1:?usage: bench/scaling.sh BUILD_DIR [PER_RANK_BATCH] [STEPS] [THREADS_PER_RANK]}
batch=${2:-64}
steps=${3:-10}
threads=${4:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=$threads
bench=$build/bench/distributed_scaling
args=(--batch "$batch" --steps "$steps" --threads "$threads")
one=$(mpirun -np 1 --oversubscribe --bind-to none "$bench" "${args[@]}")
two=$(mpirun -np 2 --oversubscribe --bind-to none "$bench" "${args[@]}")
two_local=$(mpirun -np 2 --oversubscribe --bind-to none "$bench" "${args[@]}" --sync-bn 0)
python3 - "$one" "$two" "$two_local" <<'PY'
import json, sys
one, two, two_local = (json.loads(a) for a in sys.argv[1:4])
print(json.dumps({
    "benchmark": "scaling",
    "per_rank_batch": one["per_rank_batch"],
    "threads_per_rank": one["threads_per_rank"],
    "runs": [one, two, two_local],
    "efficiency_2_ranks_sync_bn": two["jets_per_s"] / (2 * one["jets_per_s"]),
    "efficiency_2_ranks_local_bn": two_local["jets_per_s"] / (2 * one["jets_per_s"]),
}, indent=1))
PY
