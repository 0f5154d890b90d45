"""Study storage, trial ownership and fault tolerance (docs/hpsearch.md, "Fault tolerance")."""
import os
import socket
import time

import optuna
from optuna.trial import TrialState

from . import SearchError

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def open_storage(spec, out_dir):
    if spec and "://" in spec:
        return optuna.storages.RDBStorage(spec), spec
    path = os.path.abspath(spec or os.path.join(out_dir, "study.journal"))
    try:
        backend = optuna.storages.JournalFileStorage(path)
    except OSError as e:
        raise SearchError(f"cannot open journal file '{path}': {e.strerror}")
    return optuna.storages.JournalStorage(backend), path


def proc_start_time(pid):
    """The process's start time (clock ticks since boot), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


class Owner:
    def __init__(self):
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.start = proc_start_time(self.pid)
        self.id = f"{self.host}:{self.pid}:{self.start}"

    def attrs(self):
        return {"owner_host": self.host, "owner_pid": self.pid, "owner_start": self.start,
                "owner_id": self.id}


def owner_alive(attrs, owner):
    """Whether the driver owning a RUNNING trial is alive, or None when it is on another host."""
    if attrs.get("owner_host") != owner.host:
        return None
    pid = attrs.get("owner_pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return proc_start_time(pid) == attrs.get("owner_start")


def heartbeat_age(t):
    path = os.path.join(t.user_attrs.get("trial_dir", ""), "heartbeat")
    try:
        return time.time() - os.path.getmtime(path)
    except OSError:
        start = t.datetime_start.timestamp() if t.datetime_start else time.time()
        return time.time() - start


def fail_and_requeue(study, number, owner, reason, requeue=True):
    """Marks RUNNING trial `number` FAIL and enqueues its params again, once even when several
    drivers reap it at the same time: each claims it (a user attr, which a finished trial refuses)
    and then fails it; only the driver whose claim stands re-enqueues."""
    t = study._storage.get_trial(study._storage.get_trial_id_from_study_id_trial_number(
        study._study_id, number))
    if t.state != TrialState.RUNNING:
        return False
    try:
        study._storage.set_trial_user_attr(t._trial_id, "reaped_by", owner.id)
        study._storage.set_trial_user_attr(t._trial_id, "fail_reason", reason)
    except Exception:  # finished meanwhile (another driver reaped it)
        return False
    try:
        study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    except Exception:
        pass
    t = study._storage.get_trial(t._trial_id)
    if t.state != TrialState.FAIL or t.user_attrs.get("reaped_by") != owner.id:
        return False
    if requeue:
        attrs = {"requeued_from": number}
        if "seed" in t.user_attrs:
            attrs["seed"] = t.user_attrs["seed"]
        study.enqueue_trial(dict(t.params), user_attrs=attrs)
    return True


def reap_stale(study, owner, heartbeat_timeout, log):
    """RUNNING trials whose driver is dead (this host) or silent (other hosts) -> FAIL + requeue."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.user_attrs.get("owner_id") == owner.id:
            continue
        alive = owner_alive(t.user_attrs, owner)
        if alive is None:
            age = heartbeat_age(t)
            if age <= heartbeat_timeout:
                continue
            reason = f"no heartbeat for {age:.0f} s (driver {t.user_attrs.get('owner_id')})"
        elif alive:
            continue
        else:
            reason = f"driver {t.user_attrs.get('owner_id', '?')} is gone"
        if fail_and_requeue(study, t.number, owner, reason):
            log(f"trial {t.number}: {reason}: marked FAIL, parameters re-enqueued")
            n += 1
    return n


def counts(study):
    c = {"complete": 0, "pruned": 0, "fail": 0, "running": 0, "waiting": 0}
    names = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned",
             TrialState.FAIL: "fail", TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}
    for t in study.get_trials(deepcopy=False):
        if t.state in names:
            c[names[t.state]] += 1
    c["finished"] = c["complete"] + c["pruned"]
    return c


def is_surplus(study, number, wanted):
    """After an ask: whether trial `number` is beyond `wanted` finished + running trials (drivers
    that asked at the same time); the lowest-numbered running trials keep the free places."""
    trials = study.get_trials(deepcopy=False)
    finished = sum(t.state in FINISHED for t in trials)
    running = sorted(t.number for t in trials if t.state == TrialState.RUNNING)
    return number in running and running.index(number) >= wanted - finished
