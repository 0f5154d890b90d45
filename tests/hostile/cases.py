"""The hostile-input cases: one entry per case a new user (or a crash, or a damaged file) can bring.
To add one, append a Case: `setup(fx, d)` prepares the inputs in the case's own directory `d` (fx:
the shared valid fixtures) and returns the command; the case passes when the command ends with
`rc` (0: success expected; None: any non-zero status, never a crash), its stderr matches `message`
(a regular expression, case-insensitive), none of `absent` exists afterwards and `check(fx, d,
result)` returns None (or a string saying what is wrong). Paths in `absent` are relative to `d`.
docs/hostile-inputs.md describes every case for users; keep the two in step.

Classes (issue #12): 1 false success, 2 crash after an error, 3 non-finite values, 4 silent bad
input, 5 misleading messages, 6 real-world files, 7 leftovers."""
import glob
import json
import os
import shutil
import socket

import h5py

from fixtures import (TINY_TRAIN, copy, declare_particles, empty_prepared, replace_float64, rewrite_names_as_utf8,
                      run, set_attribute, set_value)


class Case:
    def __init__(self, name, klass, setup, rc=None, message="", absent=(), check=None):
        self.name, self.klass, self.setup = name, klass, setup
        self.rc, self.message, self.absent, self.check = rc, message, absent, check


def train_on(fx, d, train_file=None, test_file=None, extra=()):
    return [fx.tools.train, *TINY_TRAIN, "--set", f"train_file={train_file or fx.train_file}", "--set",
            f"test_file={test_file or fx.test_file}", "--set", f"output_dir={d}/run", *extra]


def evaluate_on(fx, d, data=None, checkpoint=None):
    return [fx.tools.evaluate, "--checkpoint", checkpoint or fx.checkpoint, "--data", data or fx.test_file, "--out",
            f"{d}/eval.h5", "--threads", 1]


def prepared_jets(path):
    with h5py.File(path, "r") as f:
        return f["data"].shape[0]


def raw_with(fx, d, change):
    path = copy(fx.raw_file, f"{d}/in/jets.h5")
    change(path)
    return [fx.tools.prepare_data, "--out", f"{d}/out", f"{d}/in"]


def prepare_twice_into_input_dir(fx, d):
    shutil.copytree(fx.raw_train_dir, f"{d}/data")
    run([fx.tools.prepare_data, "--quiet", "--out", f"{d}/data", f"{d}/data"])
    return [fx.tools.prepare_data, "--out", f"{d}/data", f"{d}/data"]


def same_jets_as_once(fx, d, result):
    want, got = prepared_jets(fx.train_file), prepared_jets(f"{d}/data/train_multi_20v_100P.h5")
    return None if want == got else f"the second run wrote {got} training jets, one run writes {want}"


def checkpoint_with(fx, d, change):
    path = copy(fx.checkpoint, f"{d}/ckpt.h5")
    change(path)
    return path


def edit_json_attribute(path, name, edit):
    with h5py.File(path, "r+") as f:
        value = json.loads(f.attrs[name])
        edit(value)
        f.attrs[name] = json.dumps(value)


def resume_damaged(fx, d, change):
    shutil.copytree(fx.run_dir, f"{d}/run")
    change(f"{d}/run/checkpoint.h5")
    return [*train_on(fx, d, extra=["--set", "epochs=2"]), "--resume"]


def extreme_test_file(fx, d):
    path = copy(fx.test_file, f"{d}/extreme.h5")
    set_value(path, "data", (3, 0, 0), 3e38)
    set_value(path, "data", (3, 1, 3), -3e38)
    return path


def stale_temporaries(fx, d):
    host = socket.gethostname()
    os.makedirs(f"{d}/run")
    os.makedirs(f"{d}/out")
    for name in (f"run/.checkpoint.h5.tmp-{host}-999999999", "run/.checkpoint.h5.tmp-999999998",
                 f"out/.prepare-scratch-{host}-999999999.bin", f"out/.train_multi_20v_100P.h5.tmp-{host}-999999999"):
        with open(f"{d}/{name}", "w") as f:
            f.write("left by a killed run")
    with open(f"{d}/run/.checkpoint.h5.tmp-otherhost-999999999", "w") as f:
        f.write("another node's temporary: not ours to remove")
    run([fx.tools.prepare_data, "--quiet", "--shuffle", 1, "--out", f"{d}/out", fx.raw_train_dir])
    return train_on(fx, d)


def stale_removed(fx, d, result):
    left = sorted(os.path.basename(p) for p in glob.glob(f"{d}/run/.*") + glob.glob(f"{d}/out/.*"))
    if left != [".checkpoint.h5.tmp-otherhost-999999999"]:
        return f"hidden files left: {left}"
    return None


def moved_run(fx, d):
    run(train_on(fx, d, extra=["--set", "epochs=2", "--set", "max_steps=5"]))
    shutil.move(f"{d}/run", f"{d}/moved")
    return [fx.tools.train, *TINY_TRAIN, "--set", "epochs=2", "--set", f"train_file={fx.train_file}", "--set",
            f"test_file={fx.test_file}", "--set", "output_dir=moved", "--resume"]


def metrics_has_two_epochs(fx, d, result):
    with open(f"{d}/moved/metrics.jsonl") as f:
        n = len(f.readlines())
    return None if n == 2 else f"metrics.jsonl has {n} lines after the resume, expected 2"


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def loop(d):
    os.symlink(f"{d}/b.h5", f"{d}/a.h5")
    os.symlink(f"{d}/a.h5", f"{d}/b.h5")
    return f"{d}/a.h5"


CASES = [
    # 3. Non-finite values
    Case("prepare-float64-beyond-float32", 3,
         lambda fx, d: raw_with(fx, d, lambda p: replace_float64(p, "jetConstituentList", (2, 1, 8), 1e39)),
         message=r"jet 2: 1e\+39 in jetConstituentList \(particle 1, column 8 'j1_etarel'\) does not fit in float32",
         absent=["out/train_multi_20v_100P.h5", "out/test_multi_20v_100P.h5"]),
    Case("prepare-float64-1e300-global", 3,
         lambda fx, d: raw_with(fx, d, lambda p: replace_float64(p, "jets", (0, 14), 1e300)),
         message=r"jet 0: 1e\+300 in jets \(column 14 'j_c1_b1'\) does not fit in float32", absent=["out/train_multi_20v_100P.h5"]),
    Case("evaluate-extreme-finite-inputs", 3, lambda fx, d: evaluate_on(fx, d, data=extreme_test_file(fx, d)),
         message=r"jet 3 of .* gives a NaN or infinite latent vector.*nothing was written", absent=["eval.h5"]),
    Case("evaluate-checkpoint-with-nan-parameter", 3,
         lambda fx, d: evaluate_on(fx, d, checkpoint=checkpoint_with(
             fx, d, lambda p: set_value(p, "params/agg.W", (0, 0), float("nan")))),
         message=r"tensor 'params/agg.W' holds nan at element 0", absent=["eval.h5"]),
    Case("resume-checkpoint-with-inf-moment", 3,
         lambda fx, d: resume_damaged(fx, d, lambda p: set_value(p, "optimizer/v", 7, float("inf"))),
         message=r"tensor 'optimizer/v' holds inf at element 7"),
    Case("train-test-pass-non-finite", 3,
         lambda fx, d: train_on(fx, d, test_file=extreme_test_file(fx, d)),
         message=r"test pass gives NaN or infinite outputs .* row 3 of file '.*extreme.h5'.*last good checkpoint: none",
         absent=["run/metrics.jsonl", "run/checkpoint.h5"]),
    # 4. Silent bad input
    Case("config-integer-wraps", 4, lambda fx, d: train_on(fx, d, extra=["--set", "epochs=4294967298"]),
         message=r"config key 'epochs' = 4294967298 is outside the range of this key \[-2147483648, 2147483647\]",
         absent=["run"]),
    Case("config-unsigned-beyond-int64", 4, lambda fx, d: train_on(fx, d, extra=["--set", "toy_jets=1e30"]),
         message=r"config key 'toy_jets' = 1e\+30 is outside the range", absent=["run"]),
    Case("prepare-twice-into-its-input-directory", 4, prepare_twice_into_input_dir, rc=0,
         message=r"skipping .*train_multi_20v_100P.h5: it is an output of this run", check=same_jets_as_once),
    Case("prepare-same-file-twice", 4,
         lambda fx, d: [fx.tools.prepare_data, "--out", f"{d}/out", fx.raw_file, fx.raw_train_dir],
         message=r"input file '.*' is given twice \(also as '.*'\): its jets would be counted twice", absent=["out"]),
    Case("prepare-output-named-as-input", 4,
         lambda fx, d: [fx.tools.prepare_data, "--out", os.path.dirname(fx.train_file), fx.train_file],
         message=r"input '.*train_multi_20v_100P.h5' is also an output of this run"),
    Case("prepare-raw-and-prepared-mixed", 4,
         lambda fx, d: [fx.tools.prepare_data, "--out", f"{d}/out", fx.raw_train_dir, fx.train_file],
         message=r"the inputs mix raw HLS4ML files .* and files written by prepare-data", absent=["out"]),
    # 5. Misleading messages
    Case("prepare-negative-first-pt", 5,
         lambda fx, d: raw_with(fx, d, lambda p: set_value(p, "jetConstituentList", (4, 0, 5), -3.5)),
         message=r"jet 4: particle 0 has a negative pt \(j1_pt = -3.5\)"),
    Case("prepare-declares-ten-million-particles", 5,
         lambda fx, d: raw_with(fx, d, lambda p: declare_particles(p, 10_000_000)),
         message=r"declares 10000000 particles per jet; at most 1000 are supported"),
    Case("evaluate-data-symlink-loop", 5, lambda fx, d: evaluate_on(fx, d, data=loop(d)),
         message=r"data file '.*a.h5' is a loop of symbolic links"),
    Case("prepare-input-symlink-loop", 5, lambda fx, d: [fx.tools.prepare_data, "--out", f"{d}/out", loop(d)],
         message=r"input '.*a.h5' is a loop of symbolic links"),
    Case("train-config-is-directory", 5, lambda fx, d: [fx.tools.train, "--config", d],
         message=r"config file '.*' is a directory, not a file"),
    Case("evaluate-data-is-directory", 5, lambda fx, d: evaluate_on(fx, d, data=d),
         message=r"data file '.*' is a directory, not a file"),
    Case("evaluate-checkpoint-dangling-link", 5,
         lambda fx, d: evaluate_on(fx, d, checkpoint=os.symlink("/nonexistent/ckpt.h5", f"{d}/ck.h5") or f"{d}/ck.h5"),
         message=r"checkpoint '.*ck.h5' is a symbolic link to '/nonexistent/ckpt.h5', which does not exist"),
    Case("evaluate-checkpoint-state-unparsable", 5,
         lambda fx, d: evaluate_on(fx, d, checkpoint=checkpoint_with(fx, d, lambda p: set_attribute(p, "state", "{oops"))),
         message=r"its 'state' attribute is not a JSON object \(damaged file\?\)"),
    Case("evaluate-checkpoint-other-format-version", 5,
         lambda fx, d: evaluate_on(fx, d, checkpoint=checkpoint_with(fx, d, lambda p: edit_json_attribute(
             p, "state", lambda s: s.update(format_version=7)))),
         message=r"has format version 7; this build reads version 1"),
    Case("evaluate-checkpoint-unknown-config-key", 5,
         lambda fx, d: evaluate_on(fx, d, checkpoint=checkpoint_with(fx, d, lambda p: edit_json_attribute(
             p, "config", lambda c: c.update(future_key=1)))),
         message=r"the configuration stored in checkpoint '.*ckpt.h5' is not valid for this version.*unknown config key "
                 r"'future_key'"),
    Case("resume-checkpoint-unknown-config-key", 5,
         lambda fx, d: resume_damaged(fx, d, lambda p: edit_json_attribute(p, "config", lambda c: c.update(future_key=1))),
         message=r"was written with config key 'future_key' \(= 1\), which this version of train does not know"),
    Case("train-config-syntax-error", 5,
         lambda fx, d: [fx.tools.train, "--config", write_text(f"{d}/c.json", '{"epochs": 1,}')],
         message=r"config file '.*c.json' is not valid JSON: .*at line 1, column 14: syntax error"),
    Case("evaluate-raw-file-as-data", 5, lambda fx, d: evaluate_on(fx, d, data=fx.raw_file),
         message=r"is a raw HLS4ML jet file, not a prepared one: run prepare-data on it first", absent=["eval.h5"]),
    Case("evaluate-zero-jets", 5, lambda fx, d: evaluate_on(fx, d, data=empty_prepared(fx.test_file, f"{d}/empty.h5")),
         message=r"data file '.*empty.h5' holds no jets", absent=["eval.h5"]),
    # 6. Real-world files
    Case("prepare-utf8-name-lists", 6, lambda fx, d: raw_with(fx, d, rewrite_names_as_utf8), rc=0,
         check=lambda fx, d, r: None if prepared_jets(f"{d}/out/train_multi_20v_100P.h5") == prepared_jets(
             fx.train_file) else "UTF-8 names changed the jets"),
    # 7. Leftovers
    Case("stale-temporaries-removed", 7, stale_temporaries, rc=0, message=r"removed .*\.checkpoint\.h5\.tmp-",
         check=stale_removed),
    Case("no-empty-metrics-after-early-failure", 7,
         lambda fx, d: train_on(fx, d, extra=["--set", "learning_rate=1e30"]),
         message=r"the loss is .* at epoch 0, batch .*last good checkpoint: none", absent=["run/metrics.jsonl"]),
    Case("moved-run-resumes", 7, moved_run, rc=0, message=r"resumed from moved/checkpoint.h5", check=metrics_has_two_epochs),
]
