"""`tf-reference bench` and `profile`: the original graph timed like bench/model_throughput times
the engine, printing the same JSON keys, so that one script can put the two side by side."""
import json
import os
import platform
import resource
import sys
import time

import numpy as np

REFERENCE_TRAIN_JETS, REFERENCE_TEST_JETS = 302592, 75264  # spec 1.7, as model_throughput


def synthetic_jets(batch, rng):
    """Jets drawn like bench/model_throughput.cpp's synthetic_jets (20-79 particles, zero padding),
    from numpy's generator: the same distribution, not the same jets (give both --data to compare
    on the same jets, as bench/compare-tf does)."""
    data = np.zeros((batch, 100, 8), np.float32)
    for b in range(batch):
        n = 20 + int(rng.integers(60))
        f = data[b, :n]
        f[:, 0], f[:, 1] = rng.normal(0, 0.1, n), rng.normal(0, 0.1, n)
        f[:, 2] = -1.0 - 3.0 * rng.random(n)
        f[:, 3] = np.hypot(f[:, 0], f[:, 1])
        f[:, 4] = 2.0 + 3.0 * rng.random(n)
        f[:, 5], f[:, 6], f[:, 7] = f[:, 2], f[:, 4] - 0.1, 0.9 + 0.1 * rng.random(n)
    return data


def multiplicity(data):
    """Real particles per jet: rows with any non-zero feature (prepared data pads with zeros)."""
    return np.count_nonzero(np.any(data != 0, axis=2), axis=1)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nvtx_ranges():
    """push/pop for Nsight Systems: the `nvtx` package when installed, else no-ops."""
    try:
        import nvtx
        return nvtx.push_range, nvtx.pop_range
    except ImportError:
        return (lambda *a, **k: None), (lambda *a, **k: None)


def main(args):
    import tensorflow as tf
    from .graph import DISTANCES, LATENT, LOGITS, LOSS_TOTAL, OriginalGraph, TRAIN_JOINT

    inference = [LATENT, LOGITS, DISTANCES, LOSS_TOTAL]  # what evaluate computes per batch

    push, pop = nvtx_ranges()
    infer_batch = args.infer_batch or args.batch
    if args.data:
        from .check import read_prepared
        data, mass_bin = read_prepared(args.data, 0, max(args.batch, infer_batch))
    else:
        rng = np.random.default_rng(1)
        data = synthetic_jets(max(args.batch, infer_batch), rng)
        mass_bin = rng.integers(0, 19, len(data)).astype(np.int32)

    push("tf/load")
    graph = OriginalGraph(args.checkpoint, args.batch, threads=args.threads)
    pop()
    x, y = data[:args.batch], mass_bin[:args.batch]
    feed = graph.feed(x, y, training=True, alpha=10.0)

    def seconds_per_run(session, fetches, feed_dict, reps, range_name):
        """One warm-up run (graph optimisation, allocator, threads), then the mean of `reps` runs."""
        session.run(fetches, feed_dict=feed_dict)
        t0 = time.perf_counter()
        for _ in range(reps):
            push(range_name)
            session.run(fetches, feed_dict=feed_dict)
            pop()
        return (time.perf_counter() - t0) / reps

    step_s = seconds_per_run(graph.session, TRAIN_JOINT, feed, args.steps, "tf/train_step")

    infer_graph = graph if infer_batch == args.batch else OriginalGraph(args.checkpoint, infer_batch,
                                                                         threads=args.threads)
    infer_graph.restore()
    infer_feed = infer_graph.feed(data[:infer_batch], mass_bin[:infer_batch], training=False)
    batch_infer_s = seconds_per_run(infer_graph.session, inference, infer_feed, args.infer_reps, "tf/batch_inference")

    single = OriginalGraph(args.checkpoint, 1, threads=args.threads)
    single_feed = single.feed(data[:1], mass_bin[:1], training=False)
    single_s = seconds_per_run(single.session, inference, single_feed, 50, "tf/single_jet")

    train_jets_s = args.batch / step_s
    infer_jets_s = infer_batch / batch_infer_s
    result = {
        "implementation": "original TensorFlow graph (published .meta, tf.compat.v1)",
        "device": "cpu" if not tf.config.list_physical_devices("GPU") else "gpu",
        "cpu_model": cpu_model(),
        "tensorflow": tf.__version__,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0",
        "threads": args.threads,
        "batch": args.batch,
        "data": args.data or "synthetic (drawn like bench/model_throughput's jets)",
        "mean_multiplicity": float(np.mean(multiplicity(data[:args.batch]))),
        "train_step_s": step_s,
        "train_jets_per_s": train_jets_s,
        "reference_epoch_s": REFERENCE_TRAIN_JETS / train_jets_s + REFERENCE_TEST_JETS / infer_jets_s,
        "single_jet_inference_ms": single_s * 1e3,
        "single_jet_multiplicity": int(multiplicity(data[:1])[0]),
        "infer_batch": infer_batch,
        "batch_inference_jets_per_s": infer_jets_s,
        "peak_host_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "peak_host_bytes_definition": "peak resident set of the process (TensorFlow runtime included)",
    }
    print(json.dumps(result))
    sys.stdout.flush()
    return 0

