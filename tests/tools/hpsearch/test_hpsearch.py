#!/usr/bin/env python3
"""tools/hpsearch end to end with the real train on tiny toy trainings (600 jets, 2 epochs, one of
pre-training, batch 64, one thread: a few seconds a trial).

    test_hpsearch.py CASE SOURCE_DIR TRAIN WORK_DIR

CASE: study (3 trials, 2 workers: summary.json, trials.csv, best_config.json with real values),
kill_resume / interrupt_resume (SIGKILL / SIGINT the driver while trials run, re-run: exactly
--trials finished, the stopped trials FAIL with their params re-enqueued and run), two_drivers (two
drivers on one journal share the study), bad_input (unknown key, malformed distributions,
objective key not in the metrics, unwritable --out, a study of the other direction in the storage:
exit 2 with the message). Exits 77 (skipped) without optuna for the driver.
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

CASE, SRC, TRAIN, WORK = sys.argv[1:5]
HPSEARCH = os.path.join(SRC, "tools", "hpsearch")
TINY = {"toy_jets": {"type": "fixed", "value": 600}, "epochs": {"type": "fixed", "value": 2},
        "pretrain_epochs": {"type": "fixed", "value": 1}, "batch_size": {"type": "fixed", "value": 64},
        "beta": {"type": "loguniform", "low": 0.1, "high": 100},
        "learning_rate": {"type": "loguniform", "low": 0.0001, "high": 0.01}}


def interpreter():
    with open(HPSEARCH, encoding="utf-8") as f:
        return f.readline()[2:].split()


def check(cond, msg):
    if not cond:
        print(f"FAIL: {msg}", file=sys.stderr)
        sys.exit(1)


def space(name, params=None, **top):
    path = os.path.join(WORK, name)
    s = {"base_config": os.path.join(SRC, "configs", "quickstart.json"),
         "params": params or TINY, "sampler": {"type": "random", "seed": 7}}
    s.update(top)
    with open(path, "w") as f:
        json.dump(s, f)
    return path


def cmd(space_file, out, trials, workers, *extra):
    return [HPSEARCH, "--space", space_file, "--trials", str(trials), "--workers", str(workers),
            "--threads", str(workers), "--out", out, "--train", TRAIN, "--no-plots",
            "--progress", "--grace", "3", *extra]


def run(args, timeout=400):
    t0 = time.time()
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    print(f"$ {' '.join(args[1:])}\n  -> {r.returncode} in {time.time() - t0:.1f} s\n{r.stdout}{r.stderr}")
    return r


def summary(out):
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)


def finished(s):
    return [t for t in s["trials"] if t["state"] in ("COMPLETE", "PRUNED")]


def case_study():
    out = os.path.join(WORK, "out")
    r = run(cmd(space("s.json"), out, 3, 2))
    check(r.returncode == 0, "the study exits 0")
    s = summary(out)
    check(len(finished(s)) == 3 and s["states"].get("COMPLETE", 0) >= 1, f"3 finished: {s['states']}")
    check(isinstance(s["best"]["value"], float) and 0 < s["best"]["value"] <= 1, "a best accuracy")
    with open(os.path.join(out, "trials.csv")) as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == 3 and all(r["seed"] == "1" and float(r["param_beta"]) > 0 for r in rows),
          "trials.csv: 3 rows with seed and params")
    for r in rows:
        d = r["output_dir"]
        for name in ("config.json", "metrics.jsonl", "checkpoint.h5", "train.log"):
            check(os.path.getsize(os.path.join(d, name)) > 0, f"{d}/{name}")
    with open(os.path.join(out, "best_config.json")) as f:
        best = json.load(f)
    check(best["output_dir"] == "runs/best" and best["toy_jets"] == 600 and
          best["beta"] == s["best"]["params"]["beta"], "best_config.json: base + best params")
    r = run(cmd(space("s.json"), out, 3, 2))  # already done: resumes to nothing
    check(r.returncode == 0 and len(summary(out)["trials"]) == 3, "a re-run adds no trial")
    # TPE, same study seed and worker count, a fresh study: the same configurations in the same order
    tpe = space("tpe.json", sampler={"type": "tpe", "seed": 3, "n_startup_trials": 2})
    sequences = []
    for name in ("tpe1", "tpe2"):
        check(run(cmd(tpe, os.path.join(WORK, name), 3, 2)).returncode == 0, f"{name} exits 0")
        sequences.append([t["params"] for t in sorted(summary(os.path.join(WORK, name))["trials"],
                                                      key=lambda t: t["number"])])
    check(sequences[0] == sequences[1], f"the same suggested sequence twice: {sequences}")


def trains_of(path):
    pids = []
    for p in os.listdir("/proc"):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if path.encode() in f.read() and p != str(os.getpid()):
                    pids.append(int(p))
        except (OSError, ValueError):
            pass
    return pids


def case_kill_resume():
    stop_and_resume(signal.SIGKILL, -signal.SIGKILL)


def case_interrupt_resume():
    stop_and_resume(signal.SIGINT, 130)


def stop_and_resume(sig, expected_status):
    """Stop the driver with `sig` while trials run, re-run the same command: the study ends with
    exactly --trials finished trials, the interrupted ones FAIL and re-run once with their params."""
    out = os.path.join(WORK, "out")
    args = cmd(space("k.json"), out, 4, 2)
    driver = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:  # kill once a trial has started training
        if any(os.path.exists(os.path.join(out, "trials", d, "train.log"))
               for d in (os.listdir(os.path.join(out, "trials"))
                         if os.path.isdir(os.path.join(out, "trials")) else [])):
            break
        time.sleep(0.2)
    time.sleep(1.5)
    driver.send_signal(sig)
    status = driver.wait(timeout=60)
    check(status == expected_status, f"the stopped driver exits {expected_status} (got {status})")
    time.sleep(1)
    check(not trains_of(os.path.join(out, "trials")), "the trains died with their driver")
    r = run(args)
    check(r.returncode == 0, "the resumed study exits 0")
    s = summary(out)
    fin = finished(s)
    check(len(fin) == 4, f"exactly 4 finished trials: {s['states']}")
    failed = [t for t in s["trials"] if t["state"] == "FAIL"]
    check(failed, "the killed trials are FAIL")
    for t in failed:
        again = [u for u in s["trials"] if u["requeued_from"] == t["number"]]
        check(len(again) == 1 and again[0]["params"] == t["params"] and
              again[0]["state"] in ("COMPLETE", "PRUNED"),
              f"trial {t['number']} re-enqueued once and run: {again}")
    keys = [json.dumps(t["params"], sort_keys=True) for t in fin]
    check(len(set(keys)) == len(keys), "no finished configuration twice")


def case_two_drivers():
    journal = os.path.join(WORK, "shared.journal")
    sf = space("t.json")
    procs = []
    for i in range(2):
        out = os.path.join(WORK, f"node{i}")
        procs.append(subprocess.Popen(cmd(sf, out, 4, 1, "--storage", journal, "--study", "shared"),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        time.sleep(0.3)
    for p in procs:
        o, _ = p.communicate(timeout=400)
        print(o)
        check(p.returncode == 0, "both drivers exit 0")
    s = summary(os.path.join(WORK, "node1"))
    fin = finished(s)
    check(len(fin) == 4, f"4 finished trials in all: {s['states']}")
    owners = {t["owner"] for t in fin}
    check(len(owners) == 2, f"both drivers ran trials: {owners}")


def case_bad_input():
    def bad(params, message, out=None, **top):
        r = run(cmd(space("b.json", params, **top), out or os.path.join(WORK, "out"), 1, 1))
        check(r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr,
              f"exit 2 with '{message}'")
    bad(dict(TINY, not_a_key={"type": "fixed", "value": 1}),
        "param 'not_a_key' is not a train config key")
    bad(dict(TINY, beta={"type": "loguniform", "low": 0, "high": 10}), "needs low > 0")
    bad(dict(TINY, beta={"type": "uniform", "low": 5, "high": 1}), "low (5) must be < high (1)")
    bad(dict(TINY, batch_size={"type": "categorical", "choices": []}), "non-empty list")
    bad(dict(TINY, beta={"type": "uniform", "low": 1}), "uniform needs high")
    bad(dict(TINY, beta={"type": "normal", "low": 1, "high": 2}), "unknown distribution type")
    with open(os.path.join(WORK, "a-file"), "w") as f:
        f.write("x\n")
    bad(TINY, "is not writable", out=os.path.join(WORK, "a-file", "out"))
    out = os.path.join(WORK, "objective")
    bad(TINY, "objective key 'test.no_such_metric' is not in metrics.jsonl", out=out,
        objective={"key": "test.no_such_metric"})
    s = summary(out)
    check([t["state"] for t in s["trials"]] == ["FAIL"], f"the trial is FAIL: {s['states']}")
    # the same storage and study name with the opposite objective direction: refused, study kept
    bad(TINY, "exists with direction maximize", out=out,
        objective={"key": "test.loss_kmeans", "direction": "minimize"})
    check(len(summary(out)["trials"]) == 1, "the existing study is untouched")


def main():
    r = subprocess.run(interpreter() + ["-c", "import optuna"], capture_output=True)
    if r.returncode != 0:
        print(f"skipped: {' '.join(interpreter())} cannot import optuna (Debian: python3-optuna; "
              "tools/install-deps installs it)")
        sys.exit(77)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    t0 = time.time()
    globals()["case_" + CASE]()
    print(f"ok: {CASE} in {time.time() - t0:.1f} s")


main()
