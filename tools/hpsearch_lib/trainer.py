"""One `train` subprocess per trial: started in its own process group with PR_SET_PDEATHSIG so it
dies with the driver; its metrics.jsonl is read as epochs end."""
import ctypes
import json
import os
import shlex
import signal
import subprocess
import time

from . import SearchError

PR_SET_PDEATHSIG = 1


def _child_setup(parent_pid):
    def setup():
        os.setsid()  # own process group (and session): a terminal's ^C reaches only the driver
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the driver died before prctl took effect
            os._exit(1)
    return setup


def print_config(train, base_config, sets):
    cmd = [train] + (["--config", base_config] if base_config else [])
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    try:
        r = subprocess.run(cmd + ["--print-config"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise SearchError(f"cannot run train '{train}': {e.strerror}")
    if r.returncode != 0:
        raise SearchError(f"train --print-config failed: {r.stderr.strip() or r.stdout.strip()}")
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError:
        raise SearchError(f"train --print-config printed no JSON: {r.stdout[:200]}")


def parse_sets(items, known):
    """--extra-set key=value: the value as JSON when it parses (numbers, booleans), else a string;
    a string-typed key keeps the text as is."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SearchError(f"--extra-set '{item}': expected key=value")
        k, v = item.split("=", 1)
        if k not in known:
            raise SearchError(f"--extra-set: '{k}' is not a train config key (known keys: "
                              f"{', '.join(sorted(known))})")
        if isinstance(known[k], str):
            out[k] = v
        else:
            try:
                out[k] = json.loads(v)
            except json.JSONDecodeError:
                out[k] = v
    return out


class TrialRun:
    def __init__(self, trial, trial_dir, config, train, launcher, pretrain_epochs):
        self.trial = trial
        self.number = trial.number
        self.dir = trial_dir
        self.config = config
        self.pretrain_epochs = pretrain_epochs
        self.lines = []          # parsed metrics.jsonl lines so far
        self.values = []         # (line, objective value) per epoch that has one
        self._offset = 0
        self._partial = b""
        self.started = time.time()
        self.last_heartbeat = 0.0
        self.heartbeat()
        cfg_path = os.path.join(trial_dir, "config.json")
        with open(cfg_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
        cmd = shlex.split(launcher or "") + [train, "--config", cfg_path]
        self.log = open(os.path.join(trial_dir, "train.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     preexec_fn=_child_setup(os.getpid()))

    def heartbeat(self, every=10.0):
        now = time.time()
        if now - self.last_heartbeat >= every:
            with open(os.path.join(self.dir, "heartbeat"), "w") as f:
                f.write(f"{now:.3f}\n")
            self.last_heartbeat = now

    def new_lines(self):
        """Metrics lines completed since the last call (a half-written line waits)."""
        path = os.path.join(self.dir, "metrics.jsonl")
        try:
            with open(path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        out = []
        for raw in complete:
            if raw.strip():
                try:
                    out.append(json.loads(raw))
                except json.JSONDecodeError:
                    continue
        self.lines += out
        return out

    def stop(self, grace):
        """SIGTERM to the process group, SIGKILL after grace seconds."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self.close()

    def close(self):
        if not self.log.closed:
            self.log.close()

    def log_tail(self, n=400):
        try:
            with open(os.path.join(self.dir, "train.log"), "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - n))
                return f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""
