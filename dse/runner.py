"""Run a sweep's tasks on Ray: one task per (point, step), cached on disk, retried on worker loss.

Task key: the point's configuration hash, the step, and a digest of the step's options (its
time-out left out), its version and the sweep's workload (model step): a changed option is
measured again, anything else is served from the cache. Each result also records a
fingerprint of the sources its step depends on (:func:`dse.steps.source_fingerprint`); a
cached result measured with other sources is still served, marked ``stale`` (the table's
``<step>.stale`` column), and ``recompute_stale`` measures it again. (Keying on the sources
instead would recompute a whole sweep whenever anyone edits the flow it calls, which in a
shared working tree is all the time.) A task fingerprints the sources when it starts, so a
result measured after an edit made during the sweep is marked ``stale`` in that same run.

Cache (``build/dse/cache/`` by default, shared by every sweep, so an extended or renamed sweep
recomputes nothing already done): one JSON file per task,
``<cache>/<config hash>/<step>-<digest>.json``, written to a temporary file and renamed, so an
interrupted sweep never leaves a half-written result. Failed results are cached too (a
deterministic failure is not paid for twice); ``retry_failed`` measures them again.

Each task builds in its own directory ``<out>/tasks/<config hash>/<step>-<digest>/``, emptied
when an attempt starts; every tool writes there (``--out``). The generator's module cache
(``FOCUS_MODULE_CACHE``) is shared by default: it is keyed by module content and written
atomically (temporary file + rename, ``gen.library``), so concurrent tasks can only add
identical files; ``private_module_cache`` gives each task its own instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from .steps import PROJECT_ROOT, STEPS, StepContext, StepError, source_fingerprint

__all__ = ["Task", "ResultCache", "RunStats", "plan_tasks", "run_task", "run_sweep",
           "write_atomic", "CRASH_ENV", "DEFAULT_CACHE"]

DEFAULT_CACHE = PROJECT_ROOT / "build" / "dse" / "cache"
#: Fault injection for tests: ``FOCUS_DSE_CRASH_ONCE=<step>`` (or ``*``) makes the first
#: attempt of every such task kill its worker process (``os._exit``) before it starts.
CRASH_ENV = "FOCUS_DSE_CRASH_ONCE"


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclasses.dataclass(frozen=True)
class Task:
    """One step of one point.

    Attributes
    ----------
    point : dse.sweep.Point
    step : str
    options : dict
        The step's options, defaults filled in.
    digest : str
        Hash of the options (time-out excluded), the step's version and the workload.
    sources : str
        Fingerprint of the sources the step depends on (recorded in the result).
    """

    point: object
    step: str
    options: dict
    digest: str
    sources: str

    @property
    def key(self):
        """``<config hash>/<step>-<digest>``: names the cache file and the task folder."""
        return f"{self.point.config.hash}/{self.step}-{self.digest}"


def _digest(step, options, workload):
    """The part of a task key beyond the configuration hash."""
    relevant = {key: value for key, value in options.items() if key != "timeout"}
    data = {"step": step, "version": STEPS[step].version, "options": relevant}
    if step == "model":
        data["workload"] = {"cases": workload["cases"], "file": workload["file"],
                            "file_text": Path(workload["file"]).read_text()
                            if workload["file"] else None}
    text = json.dumps(data, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def plan_tasks(sweep, steps=None):
    """Tasks of every valid point of ``sweep`` (``steps``: a subset of the sweep's steps)."""
    steps = list(steps or sweep.steps)
    fingerprints = {name: source_fingerprint(STEPS[name].packages) for name in steps}
    tasks = []
    for point in sweep.points:
        if point.config is None:
            continue
        for name in steps:
            options = STEPS[name].resolved(sweep.options.get(name, {}))
            tasks.append(Task(point, name, options, _digest(name, options, sweep.workload),
                              fingerprints[name]))
    return tasks


class ResultCache:
    """Finished task results on disk, one JSON file per task key."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, key):
        return self.root / f"{key}.json"

    def load(self, key):
        """The cached result of ``key`` or ``None``."""
        path = self.path(key)
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def store(self, result):
        write_atomic(self.path(result["key"]), json.dumps(result, indent=1) + "\n")


def task_spec(task, sweep, workdir, env, crash_once):
    """The plain-data description of ``task`` sent to a worker."""
    return {"key": task.key, "step": task.step, "base": sweep.base,
            "overrides": list(sweep.base_set) + list(task.point.overrides),
            "config": task.point.config.to_dict(), "config_hash": task.point.config.hash,
            "options": task.options, "workload": sweep.workload, "workdir": str(workdir),
            "env": env, "crash_once": crash_once, "sources": task.sources}


def run_task(spec, attempt=1):
    """Run one task (in a Ray worker, or directly); returns its result record.

    Every outcome but the death of the process is returned as a record: ``status`` is
    ``ok``, ``failed``, ``timeout`` or ``unavailable``, ``error`` the message.
    """
    if spec.get("crash_once") and attempt == 1:
        os._exit(17)   # injected fault: the worker dies as if killed
    workdir = Path(spec["workdir"])
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = dict(os.environ)
    env.update(spec["env"])
    if env.get("FOCUS_MODULE_CACHE") == "private":
        env["FOCUS_MODULE_CACHE"] = str(workdir / "module-cache")
    context = StepContext(spec["base"], spec["overrides"], spec["config"], spec["config_hash"],
                          spec["options"], spec["workload"], workdir, env)
    # the sources this attempt really runs with (another engineer may have edited them since
    # the sweep started): recorded, so a result is compared with what measured it
    sources = source_fingerprint(STEPS[spec["step"]].packages)
    started, clock = time.time(), time.perf_counter()
    status, error, metrics = "ok", None, {}
    try:
        metrics = STEPS[spec["step"]].function(context)
    except StepError as failure:
        status, error = failure.status, str(failure)
    except Exception as failure:   # a bug or unexpected output: recorded, the sweep goes on
        status = "failed"
        error = f"{type(failure).__name__}: {failure} ({_where(failure)})"
    return {"key": spec["key"], "config_hash": spec["config_hash"], "step": spec["step"],
            "overrides": spec["overrides"], "options": spec["options"], "status": status,
            "error": error, "metrics": metrics, "seconds": round(time.perf_counter() - clock, 2),
            "started": started, "host": socket.gethostname(), "attempt": attempt,
            "workdir": str(workdir), "sources": sources}


def _where(failure):
    frames = traceback.extract_tb(failure.__traceback__)
    if not frames:
        return "no traceback"
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


@dataclasses.dataclass
class RunStats:
    """What one run of a sweep did."""

    tasks: int = 0
    cached: int = 0
    stale: int = 0
    computed: int = 0
    failed: int = 0
    retried: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    num_cpus: float = 0.0
    nodes: int = 0
    address: str = "local"


# --------------------------------------------------------------------------------------
# Ray
# --------------------------------------------------------------------------------------


class _Tracker:
    """Ray actor: counts the attempts of every task (a task calls :meth:`start` first)."""

    def __init__(self):
        self.attempts = {}

    def start(self, key):
        self.attempts[key] = self.attempts.get(key, 0) + 1
        return self.attempts[key]

    def snapshot(self):
        return dict(self.attempts)


def _ray_task(spec, tracker):
    import ray
    attempt = ray.get(tracker.start.remote(spec["key"]))
    return run_task(spec, attempt)


def init_ray(address=None, num_cpus=None):
    """Start a local Ray instance (``num_cpus``, default the machine's CPUs) or join the
    cluster at ``address``; Ray's own log lines go to its log files, not the terminal."""
    import ray
    if ray.is_initialized():
        return False
    common = {"logging_level": logging.WARNING, "log_to_driver": False,
              "include_dashboard": False,
              "runtime_env": {"env_vars": {"PYTHONPATH": _pythonpath()}}}
    if address:
        ray.init(address=address, **common)
    else:
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, **common)
    return True


def _pythonpath():
    """The project root first on the workers' path (they import ``dse.runner``)."""
    parts = [str(PROJECT_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                   if p]
    return os.pathsep.join(dict.fromkeys(parts))


def run_sweep(sweep, *, out, cache_dir=DEFAULT_CACHE, steps=None, address=None, num_cpus=None,
              max_retries=2, retry_failed=False, recompute_stale=False,
              private_module_cache=False, progress=None, poll_seconds=0.5):
    """Run every task of ``sweep`` that the cache does not hold; returns
    ``(results, stats)`` with ``results`` = {task key: result record}.

    Parameters
    ----------
    out : pathlib.Path
        The sweep's folder (task directories under ``out/tasks``).
    cache_dir : pathlib.Path
    steps : list of str, optional
        Run only these of the sweep's steps.
    address : str, optional
        Ray cluster to join; default a local instance with ``num_cpus``.
    max_retries : int
        Ray retries of a task whose worker died.
    retry_failed : bool
        Measure cached failures again.
    recompute_stale : bool
        Measure again cached results whose step sources have changed since.
    progress : callable, optional
        ``progress(counts)`` with ``counts`` = points done / running / failed / total.
    """
    import ray

    cache = ResultCache(cache_dir)
    tasks = plan_tasks(sweep, steps)
    stats = RunStats(tasks=len(tasks))
    started = time.perf_counter()
    results, todo = {}, []
    for task in tasks:
        known = cache.load(task.key)
        stale = known is not None and known.get("sources") != task.sources
        if known is not None and (known["status"] == "ok" or not retry_failed) \
                and not (stale and recompute_stale):
            known.update(cached=True, stale=stale)
            results[task.key] = known
            stats.cached += 1
            stats.stale += stale
        else:
            todo.append(task)
    counter = _PointCounter(sweep, tasks, results)
    if progress:
        progress(counter.counts(set()))
    if not todo:
        stats.seconds = time.perf_counter() - started
        return results, stats

    env = {"FOCUS_MODULE_CACHE": "private" if private_module_cache
           else os.environ.get("FOCUS_MODULE_CACHE")
           or str(PROJECT_ROOT / "build" / "cache" / "modules")}
    crash = os.environ.get(CRASH_ENV, "")
    owned = init_ray(address, num_cpus)
    # after ray.init, which installs its own SIGTERM handler: kill PID stops like Ctrl-C
    previous = _interrupt_on_sigterm()
    try:
        resources = ray.cluster_resources()
        stats.num_cpus = resources.get("CPU", 0.0)
        stats.nodes = len([node for node in ray.nodes() if node.get("Alive")])
        stats.address = address or "local"
        tracker = ray.remote(num_cpus=0)(_Tracker).remote()
        remote = ray.remote(num_cpus=1, max_retries=max_retries)(_ray_task)
        pending = {}
        for task in todo:
            workdir = Path(out) / "tasks" / task.key
            spec = task_spec(task, sweep, workdir, env, crash in (task.step, "*"))
            ref = remote.options(name=f"dse:{task.key}").remote(spec, tracker)
            pending[ref] = task
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=len(pending),
                                    timeout=poll_seconds)
                for ref in ready:
                    task = pending.pop(ref)
                    result = _collect(ray, ref, task, max_retries)
                    cache.store(result)
                    result.update(cached=False, stale=result["sources"] != task.sources)
                    stats.stale += result["stale"]
                    results[task.key] = result
                    stats.computed += 1
                    stats.failed += result["status"] != "ok"
                if progress:
                    started_keys = ray.get(tracker.snapshot.remote())
                    progress(counter.counts({task.key for task in pending.values()
                                             if task.key in started_keys}))
            attempts = ray.get(tracker.snapshot.remote())
            stats.retried = sum(1 for task in todo if attempts.get(task.key, 0) > 1)
            for task in todo:
                results[task.key]["attempts"] = attempts.get(task.key, 1)
        except KeyboardInterrupt:
            stats.interrupted = True
            for ref in pending:
                ray.cancel(ref, force=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if owned:
            ray.shutdown()
    stats.seconds = time.perf_counter() - started
    return results, stats


def _interrupt_on_sigterm():
    """Make SIGTERM raise ``KeyboardInterrupt`` (main thread only); returns the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    return signal.signal(signal.SIGTERM, interrupt)


def _collect(ray, ref, task, max_retries):
    """The result of a finished task; a worker lost more often than retried is a failure."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return {"key": task.key, "config_hash": task.point.config.hash, "step": task.step,
                "overrides": list(task.point.overrides), "options": task.options,
                "status": "failed", "metrics": {}, "seconds": None, "started": None,
                "host": None, "attempt": max_retries + 1, "workdir": None,
                "sources": task.sources,
                "error": f"the worker running it died {max_retries + 1} times "
                         f"({type(error).__name__}: {first})"}


class _PointCounter:
    """Points done / running / failed from the task results."""

    def __init__(self, sweep, tasks, results):
        self.sweep, self.results = sweep, results
        self.by_point = {}
        for task in tasks:
            self.by_point.setdefault(task.point.key, []).append(task.key)

    def counts(self, running_keys):
        done = running = failed = 0
        for point in self.sweep.points:
            keys = self.by_point.get(point.key, [])
            if point.config is None:
                failed += 1
                continue
            finished = [self.results[key] for key in keys if key in self.results]
            if len(finished) == len(keys):
                if all(result["status"] == "ok" for result in finished):
                    done += 1
                else:
                    failed += 1
            elif any(key in running_keys for key in keys):
                running += 1
        return {"done": done, "running": running, "failed": failed,
                "total": len(self.sweep.points)}


def progress_printer(stream=None, *, interval=10.0):
    """A ``progress(counts)`` callback: one redrawn line on a terminal, else a line per change
    (at most every ``interval`` seconds, and always the last)."""
    stream = stream or sys.stderr
    tty = stream.isatty()
    state = {"last": None, "time": -math.inf, "start": time.monotonic(), "ended": False}

    def show(counts):
        now = time.monotonic()
        status = (f"points {counts['done'] + counts['failed']}/{counts['total']}: "
                  f"{counts['done']} done, {counts['running']} running, "
                  f"{counts['failed']} failed")
        text = f"{status}  [{now - state['start']:6.0f} s]"
        finished = counts["done"] + counts["failed"] == counts["total"]
        if state["ended"]:
            return
        if tty:
            stream.write("\r" + text + ("\n" if finished else ""))
        elif finished or (status != state["last"] and now - state["time"] >= interval):
            stream.write(text + "\n")
            state["time"], state["last"] = now, status   # a change not shown yet stays due
        stream.flush()
        state["ended"] = finished
    return show
