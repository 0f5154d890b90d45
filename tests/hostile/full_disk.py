#!/usr/bin/env python3
"""Full-disk tests: every tool that writes files runs with its output on a small tmpfs, at sizes
from far too small to just enough. Each run must either succeed with complete, readable outputs, or
fail with exit status 1 and a message saying the disk is full, leaving no output and no temporary
behind; never crash (SIGSEGV, SIGABRT, HDF5's shutdown loop) and never report success for an
incomplete file. Needs permission to mount a tmpfs (CI runs as root); exits 77 (skipped, and says
so) where mounting is not permitted.   full_disk.py TOOLS_DIR WORK_DIR"""
import json
import os
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixtures import TINY_TRAIN, Fixtures, Tools, run  # noqa: E402

FULL = ("No space left on device", "Disk quota exceeded")


class Tmpfs:
    def __init__(self, path, size):
        self.path, self.size = path, size

    def __enter__(self):
        os.makedirs(self.path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", self.path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise PermissionError(r.stderr.strip() or "mount failed")
        return self.path

    def __exit__(self, *exc):
        subprocess.run(["umount", self.path], check=True)


def readable_h5(path):
    with h5py.File(path, "r") as f:
        for name in f:
            if isinstance(f[name], h5py.Dataset):
                f[name][...]
    return True


def scenarios(fx, tools):
    """(name, sizes, command(out_dir), outputs that a success must have, relative to out_dir)."""
    return [
        ("evaluate", ["4k", "12k", "24k", "40k", "1m"],
         lambda out: [tools.evaluate, "--checkpoint", fx.checkpoint, "--data", fx.test_file, "--out", f"{out}/e.h5",
                      "--threads", 1], ["e.h5"]),
        ("prepare-data", ["64k", "512k", "1m", "1600k", "8m"],
         lambda out: [tools.prepare_data, "--quiet", "--out", out, fx.raw_train_dir],
         ["train_multi_20v_100P.h5", "test_multi_20v_100P.h5"]),
        ("prepare-data --shuffle", ["256k", "1m", "2m", "8m"],
         lambda out: [tools.prepare_data, "--quiet", "--shuffle", 7, "--out", out, fx.raw_train_dir],
         ["train_multi_20v_100P.h5", "test_multi_20v_100P.h5"]),
        ("make-toy-jets", ["32k", "256k", "8m"],
         lambda out: [tools.make_toy_jets, "--jets", 300, "--out", out], ["train"]),
        ("train (checkpoint)", ["64k", "1m", "2m", "8m"],
         lambda out: [tools.train, *TINY_TRAIN, "--set", f"train_file={fx.train_file}", "--set",
                      f"test_file={fx.test_file}", "--set", f"output_dir={out}/run"],
         ["run/checkpoint.h5", "run/metrics.jsonl"]),
    ]


def judge(result, out, outputs):
    text = result.stderr + result.stdout
    if result.returncode < 0 or result.returncode > 128 or "infinite loop closing library" in text:
        return f"crashed (status {result.returncode})"
    leftovers = [os.path.join(dp, n) for dp, _, names in os.walk(out) for n in names if n.startswith(".")]
    if leftovers:
        return f"temporaries left behind: {leftovers}"
    if result.returncode == 0:
        for rel in outputs:
            path = os.path.join(out, rel)
            if not os.path.exists(path):
                return f"exit 0 but '{rel}' is missing"
            for dp, _, names in os.walk(path) if os.path.isdir(path) else [(out, [], [rel])]:
                for n in names:
                    if n.endswith(".h5"):
                        readable_h5(os.path.join(dp, n))
                    elif n.endswith(".jsonl"):
                        [json.loads(line) for line in open(os.path.join(dp, n))]
        return None
    if result.returncode != 1:
        return f"exit status {result.returncode}, expected 0 or 1"
    if not any(s in text for s in FULL):
        return "failed without saying that the disk is full:\n" + result.stderr[-1500:]
    for rel in outputs:
        if rel.endswith(".h5") and os.path.exists(os.path.join(out, rel)):
            return f"failed but left '{rel}'"
    return None


def main():
    tools_dir, work = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(work, exist_ok=True)
    try:
        with Tmpfs(os.path.join(work, "probe"), "64k"):
            pass
    except (PermissionError, FileNotFoundError) as e:
        print(f"SKIPPED: full-disk tests need to mount a tmpfs, which is not permitted here ({e})")
        return 77
    tools = Tools(tools_dir)
    fx = Fixtures(tools, work)
    passed = failed = 0
    for name, sizes, command, outputs in scenarios(fx, tools):
        outcomes = []
        for size in sizes:
            with Tmpfs(os.path.join(work, "disk"), size) as out:
                result = run(command(out))
                problem = judge(result, out, outputs)
            outcomes.append(result.returncode)
            if problem:
                failed += 1
                print(f"FAIL {name} on a {size} disk: {problem}")
            else:
                passed += 1
                print(f"PASS {name} on a {size} disk: {'complete outputs' if result.returncode == 0 else 'refused'}")
        # The sizes must cover both outcomes, or the scenario tested nothing.
        if outcomes[0] == 0 or outcomes[-1] != 0:
            failed += 1
            print(f"FAIL {name}: the smallest disk must fail and the largest succeed (statuses {outcomes})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
