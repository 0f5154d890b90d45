#!/usr/bin/env python3
"""The embedding library from outside, as a user gets it (issue 14's contract):

  1. a short training run on toy jets (train), its checkpoint exported (export-model) and
     evaluated (evaluate) on the toy test split;
  2. the library installed into a temporary prefix (cmake --install), examples/embed copied out
     of the source tree and built against the installed package (find_package(ucluster));
  3. ucluster-embed-demo run on the same jets (float32 [N][100][8]) with 1 thread and with
     --threads 4 (4 sessions sharing one model).
Checks: the demo's cluster ids equal evaluate's for every jet; its latent vectors are within the
golden inference tolerance of evaluate's (2e-5 * max|z|: golden README section 8, ten times the
worst float32 deviation of a correct engine; the two differ only in summation order); the 4-thread
output is byte-identical to the 1-thread output. Prints what it compared.

usage: end_to_end.py TOOLS_DIR BUILD_DIR SOURCE_DIR WORK_DIR"""
import os
import shutil
import struct
import subprocess
import sys

import h5py
import numpy as np


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r.stdout


def main():
    tools, build, source, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    run_dir = os.path.join(work, "run")
    # As tests/tools/test_evaluate.cpp: epoch 0 pre-trains and initialises the centroids, epoch 1
    # is joint training, so the clusters are not trivial.
    run([f"{tools}/train", "--set", "toy_jets=700", "--set", "batch_size=64", "--set", "epochs=2",
         "--set", "pretrain_epochs=1", "--set", "kmeans_n_init=2", "--set", "threads=2",
         "--set", f"output_dir={run_dir}"])
    checkpoint = f"{run_dir}/checkpoint.h5"
    data = f"{run_dir}/toy-data/prepared/test_toy.h5"
    model = f"{work}/model.ucm"
    print(run([f"{tools}/export-model", checkpoint, model]).strip())
    run([f"{tools}/evaluate", "--checkpoint", checkpoint, "--data", data, "--out", f"{work}/eval.h5",
         "--threads", "2"])
    with h5py.File(data, "r") as f:
        jets = np.asarray(f["data"], dtype="<f4")
    with h5py.File(f"{work}/eval.h5", "r") as f:
        want_cluster = np.asarray(f["cluster"])
        want_latent = np.asarray(f["latent"], dtype=np.float64)
    n = jets.shape[0]
    jets_file = f"{work}/jets.f32"
    jets.tofile(jets_file)

    prefix = f"{work}/prefix"
    run(["cmake", "--install", build, "--prefix", prefix])
    for needed in ["include/ucluster/ucluster.h", "lib/cmake/ucluster/ucluster-config.cmake",
                   "lib/pkgconfig/ucluster.pc", "lib/libucluster.a"]:
        if not os.path.exists(os.path.join(prefix, needed)):
            sys.exit(f"FAILED: the install has no {needed}")
    consumer = f"{work}/consumer"
    shutil.copytree(os.path.join(source, "examples", "embed"), consumer)
    run(["cmake", "-S", consumer, "-B", f"{consumer}/build", f"-DCMAKE_PREFIX_PATH={prefix}"])
    run(["cmake", "--build", f"{consumer}/build"])
    demo = f"{consumer}/build/ucluster-embed-demo"

    # The same demo through pkg-config (the .pc file finds the prefix from where it is), linked
    # statically against libucluster.a.
    pc_env = dict(os.environ, PKG_CONFIG_PATH=f"{prefix}/lib/pkgconfig")
    flags = run(["pkg-config", "--static", "--cflags", "--libs", "ucluster"], env=pc_env).split()
    flags = [f.replace("-lucluster", f"{prefix}/lib/libucluster.a") for f in flags]
    static_demo = f"{work}/demo-static"
    run(["cc", "-std=c99", os.path.join(source, "examples", "embed", "ucluster_embed_demo.c"), "-o", static_demo]
        + flags + ["-lpthread"])

    one = run([demo, model, jets_file, str(n)])
    if run([static_demo, model, jets_file, str(n)]) != one:
        sys.exit("FAILED: the statically linked demo (pkg-config) differs from the shared one")
    four = run([demo, "--threads", "4", model, jets_file, str(n)])
    if one != four:
        sys.exit("FAILED: --threads 4 output differs from the 1-thread output")
    lines = one.strip().split("\n")
    if len(lines) != n:
        sys.exit(f"FAILED: {len(lines)} lines for {n} jets")
    cluster = np.array([int(l.split()[0]) for l in lines])
    latent = np.array([[float(x) for x in l.split()[1:4]] for l in lines])
    mismatched = int((cluster != want_cluster).sum())
    tolerance = 2e-5 * float(np.abs(want_latent).max())
    worst = float(np.abs(latent - want_latent).max())
    print(f"{n} jets: {mismatched} cluster ids differ from evaluate's; worst |z - z_evaluate| = {worst:.3g} "
          f"(tolerance {tolerance:.3g}); clusters used: {sorted(set(cluster.tolist()))}; "
          f"--threads 4 and the static pkg-config build byte-identical to 1 thread")
    if mismatched or worst > tolerance:
        sys.exit("FAILED")
    if len(set(cluster.tolist())) < 2:
        sys.exit("FAILED: every jet in one cluster: the comparison would not mean much")


if __name__ == "__main__":
    main()
