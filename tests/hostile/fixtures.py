"""Inputs for the hostile-input tests: small valid files made once per run with the project's own
tools (toy jets, a prepared split, a one-epoch checkpoint), and helpers that damage copies of them
with h5py the way a user's files get damaged."""
import os
import shutil
import subprocess

import h5py
import numpy as np


class Tools:
    """The executables under test, from the build's tools/ directory."""

    def __init__(self, bin_dir):
        self.bin_dir = os.path.abspath(bin_dir)

    def __getattr__(self, name):
        return os.path.join(self.bin_dir, name.replace("_", "-"))


def run(cmd, env=None, timeout=600, cwd=None):
    full_env = dict(os.environ, OMP_NUM_THREADS="1")
    full_env.update(env or {})
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=full_env, timeout=timeout,
                          cwd=cwd)


def must(result, what):
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stderr}")
    return result


# A training run small enough for every test that needs a checkpoint (one epoch of pre-training).
TINY_TRAIN = ["--set", "batch_size=64", "--set", "epochs=1", "--set", "pretrain_epochs=1", "--set",
              "kmeans_n_init=1", "--set", "threads=1"]


class Fixtures:
    """Made once: raw toy jets, their prepared split and a checkpoint trained on them."""

    def __init__(self, tools, work):
        self.tools = tools
        self.dir = os.path.join(work, "fixtures")
        self.raw_dir = os.path.join(self.dir, "raw")
        self.prepared_dir = os.path.join(self.dir, "prepared")
        self.run_dir = os.path.join(self.dir, "run")
        if not os.path.exists(os.path.join(self.dir, "done")):
            shutil.rmtree(self.dir, ignore_errors=True)
            must(run([tools.make_toy_jets, "--jets", 600, "--seed", 5, "--out", self.raw_dir]), "make-toy-jets")
            must(run([tools.prepare_data, "--quiet", "--out", self.prepared_dir, self.raw_train_dir]), "prepare-data")
            must(run([tools.train, *TINY_TRAIN, "--set", f"train_file={self.train_file}", "--set",
                      f"test_file={self.test_file}", "--set", f"output_dir={self.run_dir}"]), "train")
            open(os.path.join(self.dir, "done"), "w").close()

    @property
    def raw_train_dir(self):
        return os.path.join(self.raw_dir, "train")

    @property
    def raw_file(self):
        return os.path.join(self.raw_train_dir, sorted(os.listdir(self.raw_train_dir))[0])

    @property
    def train_file(self):
        return os.path.join(self.prepared_dir, "train_multi_20v_100P.h5")

    @property
    def test_file(self):
        return os.path.join(self.prepared_dir, "test_multi_20v_100P.h5")

    @property
    def checkpoint(self):
        return os.path.join(self.run_dir, "checkpoint.h5")


def copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def set_value(path, dataset, index, value):
    """Sets one element of a dataset in place (h5py keeps the file's type)."""
    with h5py.File(path, "r+") as f:
        d = f[dataset]
        a = d[...]
        a[index] = value
        d[...] = a


def replace_float64(path, dataset, index, value):
    """Sets one element; the dataset becomes float64 if it was not, so that values beyond float32 fit."""
    with h5py.File(path, "r+") as f:
        a = f[dataset][...].astype(np.float64)
        a[index] = value
        del f[dataset]
        f.create_dataset(dataset, data=a)


def set_attribute(path, name, value):
    with h5py.File(path, "r+") as f:
        f.attrs[name] = value


def rewrite_names_as_utf8(path):
    """What h5py does by default when someone rewrites an HLS4ML file: UTF-8 variable-length names."""
    with h5py.File(path, "r+") as f:
        for name in ("particleFeatureNames", "jetFeatureNames"):
            values = [v.decode() if isinstance(v, bytes) else v for v in f[name][...]]
            del f[name]
            f.create_dataset(name, data=values, dtype=h5py.string_dtype("utf-8"))


def declare_particles(path, count):
    """A raw file whose jetConstituentList declares `count` particles per jet (nothing stored)."""
    with h5py.File(path, "r+") as f:
        n = f["jets"].shape[0]
        del f["jetConstituentList"]
        f.create_dataset("jetConstituentList", shape=(n, count, 16), dtype="f8", chunks=(1, min(count, 1000), 16))


def empty_prepared(src, dst):
    """A UCluster-layout file with the datasets of `src` cut to 0 jets."""
    with h5py.File(src, "r") as s, h5py.File(dst, "w") as d:
        for name in s:
            shape = (0,) + s[name].shape[1:]
            d.create_dataset(name, shape=shape, dtype=s[name].dtype)
        for k, v in s.attrs.items():
            d.attrs[k] = v
    return dst
