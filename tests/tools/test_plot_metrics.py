#!/usr/bin/env python3
"""plot-metrics on a small metrics.jsonl written here (the layout train writes: one JSON object per
epoch): both PNGs appear, non-empty and valid PNG, next to the metrics file by default and in
--out-dir when given; a missing, empty or malformed file is a clear error (exit 1, no traceback).

    test_plot_metrics.py PLOT_METRICS WORK_DIR

Exits 77 (CTest: skipped) when matplotlib is not importable by plot-metrics' interpreter.
"""
import json
import os
import shutil
import subprocess
import sys

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def interpreter(script):
    with open(script, encoding="utf-8") as f:
        first = f.readline().strip()
    if not first.startswith("#!"):
        return [sys.executable]
    return first[2:].split()


def epoch_line(epoch, pretrain_epochs):
    joint = epoch >= pretrain_epochs
    acc = 0.45 + 0.05 * epoch if joint else 0.36
    km = 1.0 / (1 + epoch)
    split = lambda a, k: {"loss_focal": 2.5, "loss_kmeans": k, "loss_total": 2.5 + 10 * k,
                          "accuracy_global": a, "accuracy_per_batch_mean": a + 0.03, "jets": 640,
                          "confusion_pred_by_true": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}
    return {"epoch": epoch, "phase": "joint" if joint else "pretrain", "global_step": 10 * (epoch + 1),
            "learning_rate": 1e-3, "bn_decay": 0.5,
            "inverse_temperature": {"train": 5.0 * (epoch - pretrain_epochs + 2), "eval": 2.0},
            "train": split(acc - 0.02, km * 1.1), "test": split(acc, km),
            "centroids": [0.1] * 9, "timing": {"epoch_seconds": 1.0, "train_jets_per_s": 100.0}}


def run(tool, *args):
    return subprocess.run([tool, *args], capture_output=True, text=True)


def check(condition, message):
    if not condition:
        print("FAIL:", message)
        sys.exit(1)


def check_pngs(directory):
    for name in ("accuracy.png", "clustering_loss.png"):
        path = os.path.join(directory, name)
        check(os.path.isfile(path), f"{path} not written")
        with open(path, "rb") as f:
            data = f.read()
        check(len(data) > 1000 and data.startswith(PNG_MAGIC), f"{path} is not a non-empty PNG ({len(data)} bytes)")


def check_error(result, needle, what):
    check(result.returncode == 1, f"{what}: exit status {result.returncode}, expected 1 (stderr: {result.stderr!r})")
    check(needle in result.stderr, f"{what}: stderr {result.stderr!r} lacks {needle!r}")
    check("Traceback" not in result.stderr, f"{what}: a Python traceback instead of a message")


def main():
    tool, work = sys.argv[1], sys.argv[2]
    probe = subprocess.run(interpreter(tool) + ["-c", "import matplotlib"], capture_output=True)
    if probe.returncode != 0:
        print(f"SKIP: matplotlib is not importable by {' '.join(interpreter(tool))} "
              "(Debian: apt-get install python3-matplotlib)")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "run"))
    os.makedirs(os.path.join(work, "plots"))
    metrics = os.path.join(work, "run", "metrics.jsonl")
    with open(metrics, "w", encoding="utf-8") as f:
        for epoch in range(8):
            f.write(json.dumps(epoch_line(epoch, 3)) + "\n")

    r = run(tool, metrics)
    check(r.returncode == 0, f"plot-metrics failed: {r.stderr}")
    check_pngs(os.path.join(work, "run"))
    r = run(tool, metrics, "--out-dir", os.path.join(work, "plots"))
    check(r.returncode == 0, f"plot-metrics --out-dir failed: {r.stderr}")
    check_pngs(os.path.join(work, "plots"))

    # Pre-training only (no joint epoch yet) still plots.
    pre = os.path.join(work, "pre.jsonl")
    with open(pre, "w", encoding="utf-8") as f:
        f.write(json.dumps(epoch_line(0, 3)) + "\n")
    os.makedirs(os.path.join(work, "pre"))
    r = run(tool, pre, "--out-dir", os.path.join(work, "pre"))
    check(r.returncode == 0, f"plot-metrics on a pre-training-only file failed: {r.stderr}")
    check_pngs(os.path.join(work, "pre"))

    check_error(run(tool, os.path.join(work, "missing.jsonl")), "no such file", "missing file")
    empty = os.path.join(work, "empty.jsonl")
    open(empty, "w").close()
    check_error(run(tool, empty), "empty file", "empty file")
    bad = os.path.join(work, "bad.jsonl")
    with open(bad, "w", encoding="utf-8") as f:
        f.write(json.dumps(epoch_line(0, 3)) + "\n{not json\n")
    check_error(run(tool, bad), "line 2 is not JSON", "malformed line")
    nokey = os.path.join(work, "nokey.jsonl")
    line = epoch_line(0, 3)
    del line["test"]["accuracy_global"]
    with open(nokey, "w", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
    check_error(run(tool, nokey), "test.accuracy_global", "missing key")
    check_error(run(tool, metrics, "--out-dir", os.path.join(work, "nowhere")), "does not exist", "missing out dir")
    print("plot-metrics: PNGs written and every bad input refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
