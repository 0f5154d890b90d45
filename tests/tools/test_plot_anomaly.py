#!/usr/bin/env python3
"""plot-anomaly on small synthetic evaluate outputs of an event run written here (the datasets of
tools/plot-anomaly's help): the five PNGs appear, valid and with a drawing in them, next to the
input by default and in --out-dir when given (int32 and int8 is_signal, an empty cluster through
--num-clusters); a missing file or dataset, a wrong shape, a latent that is not 2-d, bad truth
values and a missing output directory are clear errors (exit 1, no traceback).

    test_plot_anomaly.py PLOT_ANOMALY WORK_DIR

The fixtures are written, and the PNGs decoded, by this script re-run under plot-anomaly's own
interpreter (the one with numpy, h5py and matplotlib): test_plot_anomaly.py --fixture KIND PATH
and test_plot_anomaly.py --coloured PNG. Exits 77 (CTest: skipped) when that interpreter lacks one
of them.
"""
import os
import shutil
import subprocess
import sys

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNGS = ("latent_by_cluster.png", "latent_by_truth.png", "mjj_per_cluster.png", "mj1_per_cluster.png",
        "tau21_per_cluster.png")
N_EVENTS = 3000
K = 4


def write_fixture(kind, path):
    """An evaluate-like output: cluster 3 holds most of the ~3 % signal, with heavy J1 and an m_jj bump."""
    import h5py
    import numpy as np
    rng = np.random.default_rng(5)
    n = N_EVENTS
    signal = (rng.random(n) < 0.03).astype(np.int32)
    cluster = np.where(signal == 1, np.where(rng.random(n) < 0.8, 3, 0), rng.integers(0, K, n)).astype(np.int32)
    centres = np.array([[0, 0], [3, 0], [0, 3], [3, 3]], dtype=np.float32)
    latent = (centres[cluster] + rng.normal(0, 0.6, (n, 2))).astype(np.float32)
    ln_mj1 = np.where(signal == 1, np.log(480.0), rng.normal(np.log(120.0), 0.5, n))
    ln_mj2 = np.where(signal == 1, np.log(95.0), rng.normal(np.log(60.0), 0.5, n))
    tau = lambda s: np.where(s == 1, rng.uniform(0.15, 0.45, n), rng.uniform(0.4, 0.9, n))
    glob = np.stack([ln_mj1, tau(signal), ln_mj2, tau(signal)], axis=1).astype(np.float32)
    mjj = np.where(signal == 1, rng.normal(3500, 150, n), 2500 + rng.exponential(500, n)).astype(np.float32)
    data = {"cluster": cluster, "latent": latent, "is_signal": signal, "global": glob, "mjj": mjj}
    if kind == "int8":
        data["is_signal"] = signal.astype(np.int8)
    elif kind == "latent3":
        data["latent"] = np.concatenate([latent, latent[:, :1]], axis=1)
    elif kind == "no_mjj":
        del data["mjj"]
    elif kind == "short_mjj":
        data["mjj"] = mjj[:-1]
    elif kind == "global3":
        data["global"] = glob[:, :3]
    elif kind == "truth2":
        data["is_signal"][7] = 2
    elif kind != "good":
        raise SystemExit(f"unknown fixture kind {kind}")
    with h5py.File(path, "w") as f:
        for name, array in data.items():
            f.create_dataset(name, data=array)


def count_coloured(path):
    """Pixels of a PNG that are clearly coloured (not black, white or grey): the drawn data, since
    the axes, ticks and text are black and grey."""
    import matplotlib.image
    rgb = matplotlib.image.imread(path)[..., :3]
    return int(((rgb.max(axis=-1) - rgb.min(axis=-1)) > 0.25).sum())


def interpreter(script):
    with open(script, encoding="utf-8") as f:
        first = f.readline().strip()
    if not first.startswith("#!"):
        return [sys.executable]
    return first[2:].split()


def run(tool, *args):
    return subprocess.run([tool, *args], capture_output=True, text=True)


def check(condition, message):
    if not condition:
        print("FAIL:", message)
        sys.exit(1)


class Helper:
    """This script re-run under plot-anomaly's interpreter."""

    def __init__(self, tool):
        self.python = interpreter(tool)

    def call(self, *args):
        r = subprocess.run(self.python + [os.path.abspath(__file__), *args], capture_output=True, text=True)
        check(r.returncode == 0, f"helper {args} failed: {r.stderr}")
        return r.stdout

    def fixture(self, kind, path):
        self.call("--fixture", kind, path)
        return path

    def coloured(self, path):
        return int(self.call("--coloured", path))


def check_pngs(helper, directory):
    for name in PNGS:
        path = os.path.join(directory, name)
        check(os.path.isfile(path), f"{path} not written")
        with open(path, "rb") as f:
            data = f.read()
        check(len(data) > 10000 and data.startswith(PNG_MAGIC), f"{path} is not a non-trivial PNG ({len(data)} bytes)")
        coloured = helper.coloured(path)
        check(coloured > 200, f"{path} has only {coloured} coloured pixels: no data drawn?")


def check_error(result, needle, what):
    check(result.returncode == 1, f"{what}: exit status {result.returncode}, expected 1 (stderr: {result.stderr!r})")
    check(needle in result.stderr, f"{what}: stderr {result.stderr!r} lacks {needle!r}")
    check("Traceback" not in result.stderr, f"{what}: a Python traceback instead of a message")


def check_plots(tool, helper, work):
    good = helper.fixture("good", os.path.join(work, "run", "eval.h5"))
    r = run(tool, good)
    check(r.returncode == 0, f"plot-anomaly failed: {r.stderr}")
    check_pngs(helper, os.path.join(work, "run"))
    check(r.stdout.split() == [os.path.join(work, "run", name) for name in PNGS], f"stdout lists {r.stdout!r}")

    int8 = helper.fixture("int8", os.path.join(work, "int8.h5"))
    plots = os.path.join(work, "plots")
    r = run(tool, int8, "--out-dir", plots, "--num-clusters", "6", "--max-points", "500", "--title", "toy")
    check(r.returncode == 0, f"plot-anomaly --out-dir with int8 is_signal and empty clusters failed: {r.stderr}")
    check_pngs(helper, plots)

    r = run(tool, "--help")
    check(r.returncode == 0 and "latent_by_truth.png" in r.stdout and "is_signal" in r.stdout,
          f"--help: exit {r.returncode}, stdout {r.stdout!r}")


def check_errors(tool, helper, work):
    def bad(kind):
        return helper.fixture(kind, os.path.join(work, kind + ".h5"))

    check_error(run(tool, bad("latent3")), "plot-anomaly draws a 2-d latent; this file has 3", "3-d latent")
    check_error(run(tool, bad("no_mjj")), "no dataset 'mjj'", "missing dataset")
    check_error(run(tool, bad("short_mjj")), f"dataset 'mjj' has shape [{N_EVENTS - 1}], expected [n]", "short mjj")
    check_error(run(tool, bad("global3")), f"dataset 'global' has shape [{N_EVENTS}, 3], expected [n, 4]", "global")
    check_error(run(tool, bad("truth2")), "'is_signal' holds values other than 0 and 1", "truth value 2")
    check_error(run(tool, os.path.join(work, "missing.h5")), "no such file", "missing file")
    text = os.path.join(work, "text.h5")
    with open(text, "w", encoding="utf-8") as f:
        f.write("not HDF5\n")
    check_error(run(tool, text), "is not an HDF5 file", "not HDF5")
    good = os.path.join(work, "run", "eval.h5")
    check_error(run(tool, good, "--num-clusters", "3"), "--num-clusters 3: the file has cluster id 3", "small K")
    check_error(run(tool, good, "--out-dir", os.path.join(work, "nowhere")), "does not exist", "missing out dir")


def main():
    if sys.argv[1] == "--fixture":
        write_fixture(sys.argv[2], sys.argv[3])
        return 0
    if sys.argv[1] == "--coloured":
        print(count_coloured(sys.argv[2]))
        return 0
    tool, work = sys.argv[1], sys.argv[2]
    probe = subprocess.run(interpreter(tool) + ["-c", "import numpy, h5py, matplotlib"], capture_output=True)
    if probe.returncode != 0:
        print(f"SKIP: numpy, h5py or matplotlib is not importable by {' '.join(interpreter(tool))} "
              "(Debian: apt-get install python3-numpy python3-h5py python3-matplotlib)")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("run", "plots"):
        os.makedirs(os.path.join(work, sub))
    helper = Helper(tool)
    check_plots(tool, helper, work)
    check_errors(tool, helper, work)
    print("plot-anomaly: PNGs written and every bad input refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
