"""Command line of tools/tf-reference (see its --help)."""
import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PUBLISHED = os.path.join(ROOT, "..", "shared", "reference", "ucluster-published", "cluster.ckpt")
GOLDEN_FULL = os.path.join(ROOT, "..", "shared", "golden", "ucluster_golden.h5")
GOLDEN_SMALL = os.path.join(ROOT, "tests", "data", "golden_small.h5")

DESCRIPTION = """\
The authors' original UCluster graph (the .meta of a TF1 checkpoint), run by TensorFlow 2.x
(tf.compat.v1) on the same jets, weights and batch sizes as this engine.

  check    the original graph (float32 and a float64 copy), the engine (import-tf-checkpoint,
           evaluate, train-step) and the golden data on the golden jets and on --data: per-tensor
           errors of the outputs and losses, cluster agreement, kNN sets, one training step
           (losses, batch statistics, updated parameters and moving statistics), each against a
           stated tolerance; exit status 1 when one is exceeded
  bench    times the original graph like bench/model_throughput times the engine (same JSON keys)
  profile  `bench` under Nsight Systems (nsys), NVTX ranges tf/train_step, tf/batch_inference,
           tf/single_jet around the steps (the engine's own ranges: forward, adam, <layer>/<op>)

The first run sets up a Python environment with TensorFlow from PyPI (tools/tf-reference says
where); nothing of it enters the engine's build, runtime or tests. docs/tf-reference.md explains
the comparisons, the float32/float64 question and profiling both programs with Nsight Systems.
"""


def default_checkpoint():
    return PUBLISHED if os.path.exists(PUBLISHED + ".meta") else None


def parse(argv):
    p = argparse.ArgumentParser(prog="tools/tf-reference", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--checkpoint", default=default_checkpoint(),
                        help="TF1 checkpoint prefix, .meta file or folder (default: the published cluster.ckpt "
                             "in ../shared/reference/ucluster-published)")
    common.add_argument("--threads", type=int, default=2, help="intra-op threads (default: 2); inter-op: 1")
    common.add_argument("--onednn", choices=("on", "off"), default="on",
                        help="TensorFlow's oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS; default: on)")

    c = sub.add_parser("check", parents=[common], help="compare graph, engine and golden data")
    c.add_argument("--build", default=os.path.join(ROOT, "build"), help="engine build folder (default: build)")
    c.add_argument("--golden", default=GOLDEN_FULL if os.path.exists(GOLDEN_FULL) else GOLDEN_SMALL,
                   help="golden HDF5 (default: ../shared/golden/ucluster_golden.h5, else tests/data/golden_small.h5)")
    c.add_argument("--no-golden", action="store_true", help="skip the golden jets")
    c.add_argument("--data", help="prepared UCluster-layout file (prepare-data) to compare on as well")
    c.add_argument("--jets", type=int, default=1024, help="jets of --data (default: 1024)")
    c.add_argument("--batch", type=int, default=512, help="batch size on --data (default: 512)")
    c.add_argument("--out", help="write the comparisons as JSON here")

    for name, text in (("bench", "time the original graph"), ("profile", "bench under nsys profile")):
        b = sub.add_parser(name, parents=[common], help=text)
        b.add_argument("--data", help="prepared file whose first jets are timed (default: model_throughput's "
                                      "synthetic jets)")
        b.add_argument("--batch", type=int, default=512, help="training batch (default: 512)")
        b.add_argument("--infer-batch", type=int, default=0, help="inference batch (default: --batch)")
        b.add_argument("--steps", type=int, default=3, help="timed training steps after one warm-up (default: 3)")
        b.add_argument("--infer-reps", type=int, default=3, help="timed batch inferences (default: 3)")
        if name == "profile":
            b.add_argument("--output", default="tf-reference", help="nsys report name (default: tf-reference)")
    args = p.parse_args(argv)
    if args.checkpoint is None:
        p.error("--checkpoint is required (the published checkpoint is not at ../shared/reference)")
    for name in ("threads", "batch", "jets", "steps", "infer_reps"):
        if getattr(args, name, 1) is not None and getattr(args, name, 1) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("data", "golden"):
        path = getattr(args, name, None)
        if path and not os.path.isfile(path):
            p.error(f"--{name} '{path}' is not a file")
    if args.checkpoint and not os.path.exists(args.checkpoint) and not os.path.exists(args.checkpoint + ".meta"):
        p.error(f"--checkpoint '{args.checkpoint}': neither it nor {args.checkpoint}.meta exists")
    if args.command == "check" and args.no_golden:
        args.golden = None
    if args.command == "check" and not args.golden and not args.data:
        p.error("nothing to check: give --data or keep the golden jets")
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    # Before TensorFlow is imported: oneDNN is chosen at import, the log level too.
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if args.onednn == "on" else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.command == "check":
        from . import check
        return check.main(args)
    if args.command == "bench":
        from . import bench
        return bench.main(args)
    nsys = shutil.which("nsys")
    bench_argv = ["bench", "--checkpoint", args.checkpoint, "--threads", str(args.threads), "--onednn", args.onednn,
                  "--batch", str(args.batch), "--infer-batch", str(args.infer_batch), "--steps", str(args.steps),
                  "--infer-reps", str(args.infer_reps)] + (["--data", args.data] if args.data else [])
    command = [sys.executable, "-m", "tf_reference"] + bench_argv
    if nsys is None:
        print("tf-reference profile: nsys (Nsight Systems) is not on PATH; running the benchmark with its NVTX "
              "ranges but without a profiler", file=sys.stderr)
    else:
        command = [nsys, "profile", "--trace=cuda,nvtx,osrt,cublas,cudnn", "--force-overwrite=true",
                   "-o", args.output] + command
    return subprocess.call(command)
