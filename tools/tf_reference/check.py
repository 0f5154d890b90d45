"""`tf-reference check`: the original graph, the engine and the float64 golden data on the same jets.

Cases: the golden jets (16, inference and one training step) and, with --data, the first --jets jets
of a prepared file (inference in batches of --batch, one training step on the first batch).
Pairs compared:
  engine / TF float32      evaluate and train-step of the imported weights against the original graph
  engine / TF float64      the exact comparison for training (docs/tf-reference.md: float32 vs float64)
  TF float32 / TF float64  how far TensorFlow's own float32 run is from exact
  TF float64 / golden, TF float32 / golden, engine / golden   (golden jets only)
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from . import compare
from .graph import POINTS, OriginalGraph

LEARNING_RATE, BN_DECAY, ALPHA = 1e-3, 0.5, 10.0  # the golden training step (golden README 5)
MASS_BIN_WIDTH = 200.0 / 19.0                     # spec 1.5


def tool(build, name):
    path = os.path.join(build, "tools", name)
    if not os.access(path, os.X_OK):
        raise SystemExit(f"tf-reference: {path} not found: build the engine first "
                         f"(cmake --build {build} --target import-tf-checkpoint evaluate train-step)")
    return path


def run_tool(*args):
    done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tf-reference: {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_prepared(path, data, mass_bin, label):
    """The golden jets in the prepared UCluster layout (what evaluate and train-step read)."""
    with h5py.File(path, "w") as f:
        f["data"] = data.astype(np.float32)
        f["label"] = np.eye(3, dtype=np.int32)[label]
        f["pid"] = mass_bin.astype(np.int32)
        f["masses"] = ((mass_bin + 0.5) * MASS_BIN_WIDTH).astype(np.float32)


def read_prepared(path, first, count):
    try:
        with h5py.File(path, "r") as f:
            n = f["data"].shape[0]
            if first + count > n:
                raise SystemExit(f"tf-reference: {path} holds {n} jets, {first + count} needed")
            return (f["data"][first:first + count].astype(np.float32),
                    f["pid"][first:first + count].astype(np.int32))
    except (OSError, KeyError) as e:
        raise SystemExit(f"tf-reference: {path} is not a prepared UCluster file (data, pid, label, masses): {e}")


def graph_batches(graph, data, mass_bin):
    """(jets, targets, real jets) per batch of the graph's size; a short last batch is padded with empty
    jets (inference-mode outputs of a jet do not depend on the other jets of its batch)."""
    for first in range(0, len(data), graph.batch):
        x, y = data[first:first + graph.batch], mass_bin[first:first + graph.batch]
        n = len(x)
        if n < graph.batch:
            x = np.concatenate([x, np.zeros((graph.batch - n,) + x.shape[1:], x.dtype)])
            y = np.concatenate([y, np.zeros(graph.batch - n, y.dtype)])
        yield x, y, n


def infer_in_batches(graph, data, mass_bin):
    """Per-jet outputs of the graph (graph_batches); losses: mean over the full batches."""
    outs, losses = [], []
    for x, y, n in graph_batches(graph, data, mass_bin):
        out = graph.infer(x, y, ALPHA)
        outs.append({k: out[k][:n] for k in ("latent", "logits", "distances", "cluster")})
        if n == graph.batch:
            losses.append([out["loss_focal"], out["loss_km"], out["loss_total"]])
    merged = {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
    if losses:
        merged.update(zip(("loss_focal", "loss_km", "loss_total"), np.mean(losses, axis=0)))
    return merged


def engine_inference(build, ckpt, prepared, batch, threads, workdir):
    out = os.path.join(workdir, "evaluate.h5")
    summary = run_tool(tool(build, "evaluate"), "--checkpoint", ckpt, "--data", prepared, "--out", out,
                       "--batch", str(batch), "--threads", str(threads), "--inverse-temperature", str(ALPHA),
                       "--device", "cpu")
    with h5py.File(out, "r") as f:
        result = {k: f[k][()] for k in ("latent", "logits", "distances", "cluster")}
    result.update(loss_focal=summary["loss_focal"], loss_km=summary["loss_kmeans"], loss_total=summary["loss_total"])
    return result


def engine_step(build, ckpt, prepared, batch, threads, workdir):
    out = os.path.join(workdir, "train_step.h5")
    run_tool(tool(build, "train-step"), "--checkpoint", ckpt, "--data", prepared, "--out", out, "--batch", str(batch),
             "--steps", "1", "--learning-rate", str(LEARNING_RATE), "--bn-decay", str(BN_DECAY),
             "--inverse-temperature", str(ALPHA), "--threads", str(threads), "--device", "cpu")
    with h5py.File(out, "r") as f:
        forward = {k: f["step1"][k][()] for k in f["step1"]}
        params = {k: f["params"][k][()] for k in f["params"]}
    return forward, params


def tf_step(checkpoint, data, mass_bin, float64, threads):
    """Gradients, forward and parameters of one step of the original graph from the checkpoint's
    weights with a fresh optimiser at global step 0 (learning rate 1e-3, batch-norm decay 0.5)."""
    graph = OriginalGraph(checkpoint, len(data), float64=float64, threads=threads)
    graph.restore(fresh_optimiser=True, global_step=0)
    lr, decay = graph.session.run(["Maximum:0", "Minimum:0"])
    if not (np.isclose(lr, LEARNING_RATE) and np.isclose(decay, BN_DECAY)):
        raise SystemExit(f"tf-reference: the graph's schedules at step 0 give lr {lr}, bn decay {decay}; "
                         f"expected {LEARNING_RATE}, {BN_DECAY} (not the published UCluster graph?)")
    gradients = graph.gradients(data, mass_bin, ALPHA)
    graph.restore(fresh_optimiser=True, global_step=0)
    forward = graph.train_step(data, mass_bin, ALPHA)
    params = graph.parameters()
    graph.session.close()
    return gradients, forward, params


FORWARD_KEYS = ("loss_focal", "loss_km", "loss_total", "latent", "logits")


def compare_inference(report, case, pair, got, ref, rel):
    for k in ("latent", "logits", "distances") + (("loss_focal", "loss_km", "loss_total") if "loss_total" in got
                                                   and "loss_total" in ref else ()):
        report.add(case, pair, k, got[k], ref[k], rel=rel)
    report.agreement(case, pair, "cluster", got["cluster"], ref["cluster"],
                     minimum=1.0 if rel <= compare.FLOAT32_FORWARD else 0.0)


def compare_step(report, case, pair, got, ref, gradients, forward_rel, stat_rel, strong, weak):
    got_fwd, got_params = got
    ref_fwd, ref_params = ref
    for k, v in ref_fwd.items():
        if k in got_fwd:
            rel = stat_rel(k) if k.endswith((".batch_mean", ".batch_var")) else forward_rel
            report.add(case, pair, "forward " + k, got_fwd[k], v, rel=rel)
    for k, v in ref_params.items():
        if k.endswith((".bn_mean", ".bn_var")):
            layer = k.rsplit(".", 1)[0]
            report.add(case, pair, k, got_params[k], v, rel=stat_rel(layer + ".batch_mean"))
        else:
            report.add_step(case, pair, k, got_params[k], v, gradients[k], strong, weak)


def reduction_rows(batch):
    """Rows over which each BN layer's batch statistics are taken (spec 2.4)."""
    def rows(name):
        layer = name.rsplit(".", 1)[0]
        if layer.startswith("fc"):
            return batch
        if layer.endswith(("_edge", "_neibatt")):
            return batch * POINTS * 10
        return batch * POINTS
    return rows


def golden_case(args, report, ckpt, workdir):
    with h5py.File(args.golden, "r") as g:
        data, mass_bin, label = g["input/data"][()], g["input/mass_bin"][()], g["input/label"][()]
        truth = {"latent": g["infer/z"][()], "logits": g["infer/logits"][()], "distances": g["infer/dist"][()],
                 "cluster": g["infer/cluster"][()], "loss_focal": g["infer/loss_focal"][()],
                 "loss_km": g["infer/loss_km"][()], "loss_total": g["infer/loss_total"][()]}
        fwd0 = {k: g["train/fwd0"][k][()] for k in g["train/fwd0"] if not k.startswith(("knn", "cluster", "dist"))}
        fwd0["latent"] = fwd0.pop("z")
        step1 = {k: g["train/step1"][k][()] for k in g["train/step1"]} if "step1" in g["train"] else None
        knn = {k: g["infer"][k][()] for k in ("knn1", "knn2", "knn2_class")}
    batch = len(data)
    prepared = os.path.join(workdir, "golden_jets.h5")
    write_prepared(prepared, data, mass_bin, label)
    stat_rel = lambda name: compare.float32_reduction(reduction_rows(batch)(name))

    engine = engine_inference(args.build, ckpt, prepared, batch, args.threads, workdir)
    tf32, tf64 = (OriginalGraph(args.checkpoint, batch, float64=f, threads=args.threads) for f in (False, True))
    out32, out64 = tf32.infer(data, mass_bin, ALPHA), tf64.infer(data, mass_bin, ALPHA)
    compare_inference(report, "golden", "TF float64 / golden", out64, truth, compare.FLOAT64)
    compare_inference(report, "golden", "TF float32 / golden", out32, truth, compare.FLOAT32_FORWARD)
    compare_inference(report, "golden", "engine / golden", engine, truth, compare.FLOAT32_FORWARD)
    compare_inference(report, "golden", "engine / TF float32", engine, out32, compare.FLOAT32_FORWARD)
    knn1, knn2 = tf32.run(["TopKV2:1", "TopKV2_1:1"], data.astype(np.float32), mass_bin)
    cls = knn["knn2_class"]
    report.agreement("golden", "TF float32 / golden", "kNN #1 sets", np.sort(knn1, -1), np.sort(knn["knn1"], -1))
    report.agreement("golden", "TF float32 / golden", "kNN #2 sets (modulo padding class)",
                     np.sort(np.take_along_axis(cls[:, None, :].repeat(POINTS, 1), knn2, -1), -1),
                     np.sort(np.take_along_axis(cls[:, None, :].repeat(POINTS, 1), knn["knn2"], -1), -1))
    for g in (tf32, tf64):
        g.session.close()
    single = OriginalGraph(args.checkpoint, 1, threads=args.threads)  # the batch-1 copy bench times
    per_jet = [single.infer(data[j:j + 1], mass_bin[j:j + 1], ALPHA) for j in range(batch)]
    single.session.close()
    compare_inference(report, "golden", "TF float32 batch-1 / golden",
                      {k: np.concatenate([o[k] for o in per_jet]) for k in ("latent", "logits", "distances", "cluster")},
                      truth, compare.FLOAT32_FORWARD)

    gradients, fwd64, params64 = tf_step(args.checkpoint, data, mass_bin, True, args.threads)
    _, fwd32, params32 = tf_step(args.checkpoint, data, mass_bin, False, args.threads)
    engine_fwd, engine_params = engine_step(args.build, ckpt, prepared, batch, args.threads, workdir)
    for k in [k for k in fwd0 if k not in FORWARD_KEYS and not k.endswith(("_mean", "_var"))]:
        del fwd0[k]
    f32 = dict(forward_rel=compare.FLOAT32_FORWARD, stat_rel=stat_rel)
    if step1 is not None:
        compare_step(report, "golden step", "TF float64 / golden", (fwd64, params64), (fwd0, step1), gradients,
                     forward_rel=compare.FLOAT64, stat_rel=lambda _: compare.FLOAT64, strong=compare.FLOAT64,
                     weak=compare.FLOAT64_STEP_WEAK)
    step_pairs(report, "golden step", gradients, stat_rel, engine=(engine_fwd, engine_params),
               tf64=(fwd64, params64), tf32=(fwd32, params32))


def step_pairs(report, case, gradients, stat_rel, engine, tf64, tf32):
    """The engine against the exact (float64) graph under the float32-engine rules; the float32 graph
    against both under its own (a first Adam step of either side moves an element by less than lr)."""
    compare_step(report, case, "engine / TF float64", engine, tf64, gradients, forward_rel=compare.FLOAT32_FORWARD,
                 stat_rel=stat_rel, strong=compare.FLOAT32_STEP_STRONG, weak=compare.FLOAT32_STEP_WEAK)
    for pair, got, ref in (("TF float32 / TF float64", tf32, tf64), ("engine / TF float32", engine, tf32)):
        compare_step(report, case, pair, got, ref, gradients, forward_rel=compare.TF_FLOAT32_TRAINING,
                     stat_rel=lambda _: compare.TF_FLOAT32_TRAINING, strong=compare.FLOAT32_STEP_WEAK,
                     weak=compare.FLOAT32_STEP_WEAK)
        rows = [r for r in report.rows if r["case"] == case and r["pair"] == pair and "strong_elements_apart" in r]
        report.info(case, pair, "parameters moved apart",
                    elements=sum(r["strong_elements_apart"] for r in rows),
                    definition=f"elements with |g| >= max({compare.STRONG_GRADIENT:g}, 1e-3 max|g| of the tensor) "
                               f"whose values differ by more than {compare.FLOAT32_STEP_STRONG:g} after the step "
                               "(the float32 graph's gradient sign differs)")


MARGIN_ULPS = 8  # the golden data's kNN #1 safety margin (golden README 2)


def copy_jets(source, target, rows):
    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        for key in ("data", "label", "pid", "masses"):
            dst[key] = src[key][()][rows] if not isinstance(rows, slice) else src[key][rows]


def margins_in_batches(graph, data, mass_bin):
    """kNN margins (Gram ulps) of every jet, inference mode, from the float64 graph."""
    return np.concatenate([graph.knn_margin_ulps(x, y)[:n] for x, y, n in graph_batches(graph, data, mass_bin)])


def per_jet_deviation(got, ref):
    """Largest |got - ref| / max|ref| per jet over the latent vector, logits and distances."""
    return np.max([np.abs(got[k] - ref[k]).max(axis=1) / np.abs(ref[k]).max() for k in ("latent", "logits",
                                                                                           "distances")], axis=0)


def data_case(args, report, ckpt, workdir):
    """A prepared file's jets. Real (and toy) jets have near-ties in their kNN rankings, which any
    float32 implementation, the original graph's own included, may resolve differently from the exact
    ranking: the outputs of such a jet differ at the 1e-3 level. Jets whose every kNN choice has a
    margin of at least MARGIN_ULPS (measured on the float64 graph) are judged at the float32
    tolerances; the others are reported (their deviation and cluster agreement)."""
    data, mass_bin = read_prepared(args.data, 0, args.jets)
    prepared = os.path.join(workdir, "data_jets.h5")
    copy_jets(args.data, prepared, slice(0, args.jets))
    case = os.path.basename(args.data)
    engine = engine_inference(args.build, ckpt, prepared, args.batch, args.threads, workdir)
    for k in ("loss_focal", "loss_km", "loss_total"):
        engine.pop(k)  # batch means over jets some of which are tie-sensitive: compared per jet instead
    outputs = {}
    for float64 in (False, True):
        graph = OriginalGraph(args.checkpoint, args.batch, float64=float64, threads=args.threads)
        outputs[float64] = infer_in_batches(graph, data, mass_bin)
        if float64:
            margins = margins_in_batches(graph, data, mass_bin)
        graph.session.close()
    safe = margins >= MARGIN_ULPS
    report.info(case, "kNN margins", "jets", total=int(len(data)), tie_safe=int(safe.sum()),
                definition=f"tie-safe: every kNN choice of the jet has a margin >= {MARGIN_ULPS} Gram ulps "
                           "in the float64 graph")
    for pair, got, ref in (("engine / TF float64", engine, outputs[True]),
                           ("TF float32 / TF float64", outputs[False], outputs[True]),
                           ("engine / TF float32", engine, outputs[False])):
        for k in ("latent", "logits", "distances"):
            report.add(case, pair, k + " (tie-safe jets)", got[k][safe], ref[k][safe], rel=compare.FLOAT32_FORWARD)
        report.agreement(case, pair, "cluster (tie-safe jets)", got["cluster"][safe], ref["cluster"][safe])
        deviation = per_jet_deviation(got, ref)[~safe]
        report.info(case, pair, "other jets", jets=int((~safe).sum()),
                    within_tolerance=int(np.sum(deviation <= compare.FLOAT32_FORWARD)),
                    largest_deviation=float(deviation.max()) if deviation.size else 0.0,
                    cluster_agreement=float(np.mean(got["cluster"][~safe] == ref["cluster"][~safe]))
                    if deviation.size else 1.0)
    data_step(args, report, ckpt, workdir, case, data, mass_bin, np.flatnonzero(safe))


def data_step(args, report, ckpt, workdir, case, data, mass_bin, candidates):
    """One training step on a batch of tie-safe jets (in training mode too: the batch statistics
    change the second kNN graph's features, so the margins are measured again on the batch)."""
    batch = min(args.batch, len(candidates))
    if batch < 16:
        report.info(case + " step", "skipped", "training step", reason=f"only {len(candidates)} tie-safe jets")
        return
    rows, dropped = candidates[:batch], 0
    for _ in range(8):  # dropping a jet changes the batch statistics, hence the margins: repeat
        graph = OriginalGraph(args.checkpoint, len(rows), float64=True, threads=args.threads)
        graph.restore(fresh_optimiser=True, global_step=0)
        safe = graph.knn_margin_ulps(data[rows], mass_bin[rows], training=True) >= MARGIN_ULPS
        graph.session.close()
        if safe.all():
            break
        dropped += int((~safe).sum())
        rows = rows[safe]
    batch = len(rows)
    report.info(case + " step", "kNN margins", "batch", jets=int(batch), dropped_as_tie_sensitive_in_training=dropped,
                still_tie_sensitive=int((~safe).sum()))
    prepared = os.path.join(workdir, "step_jets.h5")
    copy_jets(args.data, prepared, rows)
    stat_rel = lambda name: compare.float32_reduction(reduction_rows(batch)(name))
    gradients, fwd64, params64 = tf_step(args.checkpoint, data[rows], mass_bin[rows], True, args.threads)
    _, fwd32, params32 = tf_step(args.checkpoint, data[rows], mass_bin[rows], False, args.threads)
    engine = engine_step(args.build, ckpt, prepared, batch, args.threads, workdir)
    step_pairs(report, case + " step", gradients, stat_rel, engine=engine, tf64=(fwd64, params64),
               tf32=(fwd32, params32))


def main(args):
    report = compare.Report()
    with tempfile.TemporaryDirectory(prefix="tf-reference-") as workdir:
        ckpt = os.path.join(workdir, "imported.h5")
        run_tool(tool(args.build, "import-tf-checkpoint"), args.checkpoint, ckpt)
        if args.golden:
            golden_case(args, report, ckpt, workdir)
        if args.data:
            data_case(args, report, ckpt, workdir)
    report.print_table(sys.stdout)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"checkpoint": args.checkpoint, "golden": args.golden, "data": args.data,
                       "tolerances": tolerance_text(), "comparisons": report.json()}, f, indent=1)
    failed = report.failures()
    print(f"tf-reference check: {len(report.rows) - len(failed)} of {len(report.rows)} comparisons within "
          f"tolerance" + (f"; {len(failed)} FAILED" if failed else ""))
    return 1 if failed else 0


def tolerance_text():
    return {
        "float32 forward, losses, inference outputs": f"|d| <= {compare.FLOAT32_FORWARD:g} max|ref| (golden README 8)",
        "float32 batch statistics over R rows": "|d| <= max(2e-5, 20 sqrt(R) 2^-24) max|ref|",
        "engine step parameters (against the float64 graph)":
            f"|d| <= {compare.FLOAT32_STEP_STRONG:g} where |g| >= max({compare.STRONG_GRADIENT:g}, 1e-3 max|g|), "
            f"{compare.FLOAT32_STEP_WEAK:g} elsewhere (TF1 Adam's first step ~ lr sign(g))",
        "float32 graph in training mode": f"forward and statistics |d| <= {compare.TF_FLOAT32_TRAINING:g} max|ref| "
                                          f"(measured); step parameters |d| <= {compare.FLOAT32_STEP_WEAK:g} "
                                          "(any first step moves an element by less than lr)",
        "data files": f"jets judged where every kNN choice has a margin >= {MARGIN_ULPS} Gram ulps in the float64 "
                      "graph; the other jets are reported",
        "float64": f"|d| <= {compare.FLOAT64:g} max|ref|; step parameters {compare.FLOAT64:g} where |g| >= "
                   f"{compare.STRONG_GRADIENT:g}, {compare.FLOAT64_STEP_WEAK:g} elsewhere",
        "cluster assignments": "identical where the comparison is float32 or better",
    }
