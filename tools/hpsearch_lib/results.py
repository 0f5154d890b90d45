"""Outputs of a search in --out: summary.json, trials.csv, best_config.json and plots."""
import csv
import json
import math
import os
import warnings

from optuna.trial import TrialState


def _atomic_write(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _value(t):
    v = t.value  # a PRUNED trial's is its last reported value
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def trial_rows(study):
    rows = []
    for t in study.get_trials(deepcopy=False):
        dur = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        rows.append({
            "number": t.number, "state": t.state.name, "value": _value(t),
            "params": dict(t.params), "fixed": t.user_attrs.get("fixed", {}),
            "seed": t.user_attrs.get("seed"), "duration_s": dur,
            "last_epoch": t.user_attrs.get("last_epoch"),
            "output_dir": t.user_attrs.get("trial_dir"),
            "owner": t.user_attrs.get("owner_id"),
            "requeued_from": t.user_attrs.get("requeued_from"),
            "error": t.user_attrs.get("error") or t.user_attrs.get("fail_reason"),
        })
    return rows


def write_all(study, out_dir, info, base_threads, log, plots=True):
    rows = trial_rows(study)
    names = sorted({k for r in rows for k in r["params"]})
    with open(os.path.join(out_dir, "trials.csv.tmp"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["number", "state", "value", "seed", "duration_s", "last_epoch"] +
                   [f"param_{n}" for n in names] + ["output_dir", "requeued_from", "owner", "error"])
        for r in rows:
            w.writerow([r["number"], r["state"], r["value"], r["seed"], r["duration_s"],
                        r["last_epoch"]] + [r["params"].get(n, "") for n in names] +
                       [r["output_dir"], r["requeued_from"], r["owner"], r["error"]])
    os.replace(os.path.join(out_dir, "trials.csv.tmp"), os.path.join(out_dir, "trials.csv"))

    states = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
    best = None
    try:
        bt = study.best_trial
    except ValueError:
        bt = None
    if bt is not None:
        best = {"number": bt.number, "value": bt.value, "params": dict(bt.params),
                "seed": bt.user_attrs.get("seed"), "output_dir": bt.user_attrs.get("trial_dir"),
                "config": os.path.join(out_dir, "best_config.json")}
        src = os.path.join(bt.user_attrs.get("trial_dir", ""), "config.json")
        try:
            with open(src, encoding="utf-8") as f:
                cfg = json.load(f)
            cfg["output_dir"] = "runs/best"
            cfg["threads"] = base_threads
            _atomic_write(os.path.join(out_dir, "best_config.json"),
                          json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        except (OSError, json.JSONDecodeError) as e:
            log(f"best_config.json not written: cannot read {src}: {e}")
            best["config"] = None
    summary = dict(info, states=states,
                   finished=states.get("COMPLETE", 0) + states.get("PRUNED", 0),
                   best=best, trials=rows)
    _atomic_write(os.path.join(out_dir, "summary.json"),
                  json.dumps(summary, indent=2, default=str) + "\n")
    if plots:
        write_plots(study, out_dir, log)
    return summary


def write_plots(study, out_dir, log):
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        log("plots skipped: no complete trial yet")
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import optuna.visualization.matplotlib as vis
    except ImportError as e:
        log(f"plots skipped: {e}")
        return
    for name, fn in (("optimization_history", vis.plot_optimization_history),
                     ("param_importances", vis.plot_param_importances),
                     ("parallel_coordinate", vis.plot_parallel_coordinate)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = fn(study)
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            fig.savefig(os.path.join(out_dir, f"{name}.png"), dpi=100, bbox_inches="tight")
            plt.close(fig)
        except Exception as e:  # e.g. param importances without scikit-learn or with few trials
            log(f"{name}.png skipped: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            plt.close("all")
