#!/usr/bin/env python3
"""Kill-at-every-write tests for evaluate and prepare-data (train has its own kill/resume test): the
tool runs under an LD_PRELOAD shim (kill_after_writes.c) that sends it SIGKILL right after its N-th
file-changing call (write, pwrite, ftruncate, fallocate, rename, unlink, fsync), for every N from 1
to the number a whole run makes (evenly thinned to at most MAX_KILLS points). After every kill, an
output under its final name must be complete and equal to an uninterrupted run's; then the same
command, run again without the shim, must succeed, give the same outputs and leave no temporary
behind (the killed run's is removed).   kill_at_writes.py TOOLS_DIR SHIM.so WORK_DIR"""
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixtures import Fixtures, Tools, must, run  # noqa: E402

MAX_KILLS = 40
# ASan binaries insist on coming first in the library list; the shim only wraps libc calls.
SHIM_ENV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}


def datasets(path):
    with h5py.File(path, "r") as f:
        return {name: f[name][...] for name in f if isinstance(f[name], h5py.Dataset)}


def same_outputs(a, b):
    try:
        da, db = datasets(a), datasets(b)
    except OSError:  # not even an HDF5 file that opens
        return False
    return da.keys() == db.keys() and all(np.array_equal(da[k], db[k]) for k in da)


def hidden_files(d):
    return sorted(n for n in os.listdir(d) if n.startswith(".")) if os.path.isdir(d) else []


def check_tool(name, command, outputs, work, shim):
    ref_dir = os.path.join(work, name, "reference")
    shutil.rmtree(os.path.join(work, name), ignore_errors=True)
    os.makedirs(ref_dir)
    count_file = os.path.join(work, name, "count")
    must(run(command(ref_dir), env={**SHIM_ENV, "LD_PRELOAD": shim, "UCLUSTER_COUNT_WRITES_TO": count_file}), name)
    total = int(open(count_file).read())
    points = sorted(set(np.linspace(1, total, min(total, MAX_KILLS)).round().astype(int)))
    failures = []
    for n in points:
        d = os.path.join(work, name, f"kill-{n}")
        os.makedirs(d)
        killed = run(command(d), env={**SHIM_ENV, "LD_PRELOAD": shim, "UCLUSTER_KILL_AFTER_WRITES": str(n)})
        if killed.returncode not in (-9, 0):
            failures.append(f"kill after write {n}: exit status {killed.returncode}: {killed.stderr[-500:]}")
            continue
        for rel in outputs:
            path = os.path.join(d, rel)
            if os.path.exists(path) and not same_outputs(path, os.path.join(ref_dir, rel)):
                failures.append(f"kill after write {n}: '{rel}' exists under its final name but is incomplete")
        again = run(command(d))
        if again.returncode != 0:
            failures.append(f"kill after write {n}: the rerun failed: {again.stderr[-500:]}")
            continue
        for rel in outputs:
            if not same_outputs(os.path.join(d, rel), os.path.join(ref_dir, rel)):
                failures.append(f"kill after write {n}: the rerun's '{rel}' differs from an uninterrupted run's")
        if hidden_files(d):
            failures.append(f"kill after write {n}: temporaries left after the rerun: {hidden_files(d)}")
    for f in failures:
        print(f"FAIL {name}: {f}")
    print(f"{'PASS' if not failures else 'FAIL'} {name}: killed after {len(points)} of its {total} file-changing "
          f"calls, {len(failures)} problem(s)")
    return not failures


def main():
    tools_dir, shim, work = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    os.makedirs(work, exist_ok=True)
    tools = Tools(tools_dir)
    fx = Fixtures(tools, work)
    checks = [
        ("evaluate", lambda d: [tools.evaluate, "--checkpoint", fx.checkpoint, "--data", fx.test_file, "--out",
                                f"{d}/eval.h5", "--threads", 1], ["eval.h5"]),
        ("prepare-data", lambda d: [tools.prepare_data, "--quiet", "--out", d, fx.raw_train_dir],
         ["train_multi_20v_100P.h5", "test_multi_20v_100P.h5"]),
        ("prepare-data --shuffle", lambda d: [tools.prepare_data, "--quiet", "--shuffle", 3, "--out", d,
                                              fx.raw_train_dir], ["train_multi_20v_100P.h5", "test_multi_20v_100P.h5"]),
    ]
    results = [check_tool(name.replace(" ", ""), command, outputs, work, shim) for name, command, outputs in checks]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
