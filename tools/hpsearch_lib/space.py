"""The search-space file (docs/hpsearch.md, "Space file"): loading, validation, sampling."""
import json
import math
import os

from . import SearchError

TOP_KEYS = {"base_config", "objective", "params", "sampler", "pruner", "description"}
DIST_FIELDS = {
    "uniform": ({"low", "high"}, {"step"}),
    "loguniform": ({"low", "high"}, set()),
    "int": ({"low", "high"}, {"step", "log"}),
    "categorical": ({"choices"}, set()),
    "fixed": ({"value"}, set()),
}
SAMPLER_FIELDS = {"tpe": {"seed", "n_startup_trials", "multivariate", "n_ei_candidates"},
                  "random": {"seed"}}
PRUNER_FIELDS = {
    "median": {"n_startup_trials", "n_warmup_steps", "interval_steps", "n_min_trials"},
    "successive_halving": {"min_resource", "reduction_factor", "min_early_stopping_rate"},
    "hyperband": {"min_resource", "max_resource", "reduction_factor"},
    "none": set(),
}


def _num(name, field, value, integer=False):
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or (isinstance(value, float) and not math.isfinite(value)):
        kind = "an integer" if integer else "a finite number"
        raise SearchError(f"param '{name}': '{field}' must be {kind}, got {json.dumps(value)}")
    return value


def check_dist(name, spec):
    if not isinstance(spec, dict) or "type" not in spec:
        raise SearchError(f"param '{name}': expected an object with a \"type\" "
                          f"({', '.join(sorted(DIST_FIELDS))}), got {json.dumps(spec)}")
    kind = spec["type"]
    if kind not in DIST_FIELDS:
        raise SearchError(f"param '{name}': unknown distribution type {json.dumps(kind)} "
                          f"(known: {', '.join(sorted(DIST_FIELDS))})")
    required, optional = DIST_FIELDS[kind]
    missing = required - set(spec)
    if missing:
        raise SearchError(f"param '{name}': {kind} needs {', '.join(sorted(missing))}")
    extra = set(spec) - required - optional - {"type"}
    if extra:
        raise SearchError(f"param '{name}': unknown field(s) {', '.join(sorted(extra))} for {kind}")
    if kind in ("uniform", "loguniform", "int"):
        integer = kind == "int"
        low, high = _num(name, "low", spec["low"], integer), _num(name, "high", spec["high"], integer)
        if low >= high:
            raise SearchError(f"param '{name}': low ({low}) must be < high ({high})")
        if kind == "loguniform" or spec.get("log"):
            if low <= 0:
                raise SearchError(f"param '{name}': a log distribution needs low > 0, got {low}")
        if "step" in spec:
            step = _num(name, "step", spec["step"], integer)
            if step <= 0:
                raise SearchError(f"param '{name}': step must be > 0, got {step}")
            if spec.get("log") and step != 1:
                raise SearchError(f"param '{name}': log and step != 1 cannot be combined")
        if "log" in spec and not isinstance(spec["log"], bool):
            raise SearchError(f"param '{name}': log must be true or false")
    elif kind == "categorical":
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise SearchError(f"param '{name}': choices must be a non-empty list")
        for c in choices:
            if not (c is None or isinstance(c, (bool, int, float, str))):
                raise SearchError(f"param '{name}': choice {json.dumps(c)} is not a scalar")


def check_objective(obj):
    obj = dict({"key": "test.accuracy_global", "direction": "maximize", "epoch": "last"}, **obj)
    extra = set(obj) - {"key", "direction", "epoch"}
    if extra:
        raise SearchError(f"objective: unknown field(s) {', '.join(sorted(extra))}")
    if not isinstance(obj["key"], str) or not obj["key"]:
        raise SearchError("objective: key must be a dotted metrics.jsonl key, e.g. test.loss_kmeans")
    if obj["direction"] not in ("maximize", "minimize"):
        raise SearchError(f"objective: direction must be maximize or minimize, "
                          f"got {json.dumps(obj['direction'])}")
    e = obj["epoch"]
    if not (e in ("last", "best") or (isinstance(e, int) and not isinstance(e, bool) and e >= 0)):
        raise SearchError(f"objective: epoch must be \"last\", \"best\" or an epoch index, "
                          f"got {json.dumps(e)}")
    return obj


def _check_kw(what, kind, spec, allowed):
    extra = set(spec) - allowed - {"type"}
    if extra:
        raise SearchError(f"{what} {kind}: unknown field(s) {', '.join(sorted(extra))} "
                          f"(allowed: {', '.join(sorted(allowed)) or 'none'})")


def resolve_path(path, space_file):
    """A relative base_config: from the working directory, else from the space file's directory
    and its parents (so configs/search/toy.json finds configs/quickstart.json from anywhere)."""
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    d = os.path.dirname(os.path.abspath(space_file))
    while True:
        cand = os.path.join(d, path)
        if os.path.exists(cand):
            return cand
        parent = os.path.dirname(d)
        if parent == d:
            raise SearchError(f"base_config '{path}' not found (from the working directory or "
                              f"the space file's directory and its parents)")
        d = parent


def load_space(path):
    try:
        with open(path, encoding="utf-8") as f:
            space = json.load(f)
    except OSError as e:
        raise SearchError(f"cannot read space file '{path}': {e.strerror}")
    except json.JSONDecodeError as e:
        raise SearchError(f"space file '{path}' is not valid JSON: {e}")
    if not isinstance(space, dict):
        raise SearchError(f"space file '{path}': expected a JSON object")
    extra = set(space) - TOP_KEYS
    if extra:
        raise SearchError(f"space file '{path}': unknown key(s) {', '.join(sorted(extra))} "
                          f"(known: {', '.join(sorted(TOP_KEYS))})")
    params = space.get("params")
    if not isinstance(params, dict) or not params:
        raise SearchError(f"space file '{path}': \"params\" must be a non-empty object")
    for name, spec in params.items():
        check_dist(name, spec)
    space["objective"] = check_objective(space.get("objective") or {})
    sampler = dict({"type": "tpe", "seed": 1}, **(space.get("sampler") or {}))
    if sampler["type"] not in SAMPLER_FIELDS:
        raise SearchError(f"sampler: unknown type {json.dumps(sampler['type'])} (tpe, random)")
    _check_kw("sampler", sampler["type"], sampler, SAMPLER_FIELDS[sampler["type"]])
    if not isinstance(sampler["seed"], int) or isinstance(sampler["seed"], bool):
        raise SearchError("sampler: seed must be an integer")
    space["sampler"] = sampler
    pruner = dict({"type": "none"}, **(space.get("pruner") or {}))
    if pruner["type"] not in PRUNER_FIELDS:
        raise SearchError(f"pruner: unknown type {json.dumps(pruner['type'])} "
                          f"({', '.join(PRUNER_FIELDS)})")
    _check_kw("pruner", pruner["type"], pruner, PRUNER_FIELDS[pruner["type"]])
    space["pruner"] = pruner
    if space.get("base_config"):
        space["base_config"] = resolve_path(space["base_config"], path)
    return space


def check_keys(space, train_config):
    """Every searched or fixed key must be a `train` config key (train --print-config)."""
    for name in space["params"]:
        if name not in train_config:
            raise SearchError(f"param '{name}' is not a train config key (known keys: "
                              f"{', '.join(sorted(train_config))})")
    if "output_dir" in space["params"] or "threads" in space["params"]:
        raise SearchError("params may not set output_dir or threads (the driver sets them)")


def suggest(trial, params):
    """Suggested values of the searched params (the fixed ones are returned apart)."""
    out, fixed = {}, {}
    for name, s in params.items():
        kind = s["type"]
        if kind == "fixed":
            fixed[name] = s["value"]
        elif kind == "uniform":
            out[name] = trial.suggest_float(name, s["low"], s["high"], step=s.get("step"))
        elif kind == "loguniform":
            out[name] = trial.suggest_float(name, s["low"], s["high"], log=True)
        elif kind == "int":
            out[name] = trial.suggest_int(name, s["low"], s["high"], step=s.get("step", 1),
                                          log=s.get("log", False))
        else:
            out[name] = trial.suggest_categorical(name, s["choices"])
    return out, fixed


def make_sampler(spec, seed):
    import optuna
    kw = {k: v for k, v in spec.items() if k not in ("type", "seed")}
    if spec["type"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, **kw)


def make_pruner(spec):
    import optuna
    kw = {k: v for k, v in spec.items() if k != "type"}
    kind = spec["type"]
    try:
        if kind == "median":
            return optuna.pruners.MedianPruner(**kw)
        if kind == "successive_halving":
            return optuna.pruners.SuccessiveHalvingPruner(**kw)
        if kind == "hyperband":
            return optuna.pruners.HyperbandPruner(**kw)
    except (TypeError, ValueError) as e:
        raise SearchError(f"pruner {kind}: {e}")
    return optuna.pruners.NopPruner()


def metric(line, key):
    """The value of dotted key in a metrics.jsonl line; KeyError when absent."""
    v = line
    for part in key.split("."):
        if not isinstance(v, dict) or part not in v:
            raise KeyError(key)
        v = v[part]
    return v


def metric_keys(line, prefix=""):
    keys = []
    for k, v in line.items():
        if isinstance(v, dict):
            keys += metric_keys(v, prefix + k + ".")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            keys.append(prefix + k)
    return keys
