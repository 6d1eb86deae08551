"""Design-space exploration (``python -m dse``): sweeps of ``tiny`` points on a local Ray.

One Ray instance with 2 CPUs serves the module (started by the first test that needs it, shut
down at the end). The sweep runs generate, area (the scatter accumulator, generic gates) and
the system model on 4 points, one of them illegal; its results are compared with the same
commands run directly, then served from the cache, then extended; a worker killed by an
injected fault is retried.
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dse import cli
from dse.results import pareto_front
from dse.runner import CRASH_ENV, ResultCache, init_ray, plan_tasks, run_sweep, write_atomic
from dse.steps import PROJECT_ROOT, STEPS, synth_metrics
from dse.sweep import SweepError, load_sweep, parse_sweep
from gen.config import CONFIGS

pytestmark = pytest.mark.dse

CASE = "minicpm-v/mvbench"
SWEEP = f"""
name = "tiny-lanes"
base = "tiny"
steps = ["generate", "area", "model"]

[workload]
cases = ["{CASE}"]

[options.area]
liberty = false
blocks = ["scatter_accumulator"]

[[grid]]
label = "lanes"
scatter_lanes = [1, 2, 4]

[[point]]
label = "illegal"
scatter_lanes = 0
"""


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray instance with 2 CPUs for the module's sweeps."""
    import ray
    started = init_ray(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()


def _sweep_once(root):
    """The 4-point sweep, run through the command line."""
    sweep_file = root / "sweep.toml"
    sweep_file.write_text(SWEEP)
    out, cache = root / "out", root / "cache"
    code = cli.main([str(sweep_file), "--out", str(out), "--cache", str(cache),
                     "--no-progress"])
    assert code == 0
    return {"file": sweep_file, "out": out, "cache": cache,
            "rows": list(csv.DictReader(open(out / "results.csv"))),
            "json": json.loads((out / "results.json").read_text())}


def _direct(module, *args):
    """Run ``python -m module args`` from the project root; fail the test on an error."""
    completed = subprocess.run([sys.executable, "-m", module, *args], cwd=PROJECT_ROOT,
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed


def test_four_point_sweep(tmp_path, ray_local, monkeypatch):
    """One sweep (the costly part, so one test: pytest-xdist would run a module fixture once
    per worker) checked four ways."""
    swept = _sweep_once(tmp_path)
    _check_illegal_point_fails_with_the_generators_message_while_the_others_finish(swept)
    (tmp_path / "direct").mkdir()
    _check_results_match_the_same_steps_run_directly(swept, tmp_path / "direct")
    _check_pareto_marks_and_plots(swept)
    _check_rerun_is_served_from_the_cache_and_an_extension_runs_only_new_points(
        swept, tmp_path / "extended")
    _check_results_of_changed_sources_are_marked_stale(swept, monkeypatch)


def _check_illegal_point_fails_with_the_generators_message_while_the_others_finish(swept):
    rows = swept["rows"]
    assert [row["point"] for row in rows] == ["1", "2", "3", "4"]
    with pytest.raises(ValueError) as expected:
        CONFIGS["tiny"].with_overrides(["scatter_lanes=0"])
    illegal = rows[3]
    assert illegal["status"] == "failed"
    assert illegal["error"] == f"parameters: {expected.value}"
    assert "scatter_lanes must be an integer in [1, 64], got 0" in illegal["error"]
    for row in rows[:3]:
        assert row["status"] == "ok", row["error"]
        assert row["generate.status"] == row["area.status"] == row["model.status"] == "ok"
    run = swept["json"]["run"]
    assert run["tasks"] == 9 and run["computed"] == 9 and run["cached"] == 0


def _check_results_match_the_same_steps_run_directly(swept, tmp_path):
    rows = {row["scatter_lanes"]: row for row in swept["rows"][:3]}
    for lanes, row in rows.items():
        config = CONFIGS["tiny"].with_overrides([f"scatter_lanes={lanes}"])
        assert row["config_hash"] == config.hash
        # generate: the same Verilog, byte for byte
        direct = tmp_path / f"gen-{lanes}"
        _direct("gen", "--config", "tiny", "--set", f"scatter_lanes={lanes}", "--out",
                str(direct))
        task = swept["out"] / "tasks" / config.hash
        (swept_gen,) = task.glob("generate-*/verilog")
        names = sorted(p.name for p in direct.glob("*.v"))
        assert names == sorted(p.name for p in swept_gen.glob("*.v"))
        assert int(row["generate.modules"]) == len(names)
        for name in names:
            assert (direct / name).read_bytes() == (swept_gen / name).read_bytes(), name
        # model: the same speedup and energy
        model = tmp_path / f"model-{lanes}"
        _direct("perf", "run", "--config", "tiny", "--set", f"scatter_lanes={lanes}",
                "--cases", CASE, "--cycles", "published", "--energy", "published",
                "--published-density", "--no-plots", "--no-progress", "--out", str(model))
        (case,) = [c for c in json.loads((model / "summary.json").read_text())["cases"]
                   if c["case"] == CASE]
        assert float(row["model.speedup"]) == pytest.approx(case["speedup"], rel=1e-12)
        assert float(row["model.focus_energy_mj"]) == pytest.approx(case["focus_energy_mj"],
                                                                    rel=1e-12)
    # area: one point synthesized directly gives the same figures
    synth = tmp_path / "synth-4"
    _direct("synth", "area", "--config", "tiny", "--set", "scatter_lanes=4", "--no-liberty",
            "--no-reference", "--blocks", "scatter_accumulator", "--jobs", "1", "--out",
            str(synth))
    direct_area = synth_metrics(synth / "report.csv", timing=False)
    assert float(rows["4"]["area.scatter_accumulator"]) == direct_area["scatter_accumulator"]
    assert float(rows["4"]["area.total"]) == direct_area["total"]
    # more lanes, more adders: the measured area grows; one lane stalls the model more
    areas = [float(rows[lanes]["area.scatter_accumulator"]) for lanes in ("1", "2", "4")]
    assert areas[0] < areas[1] < areas[2]
    assert float(rows["1"]["model.stall_share"]) > float(rows["2"]["model.stall_share"])


def _check_pareto_marks_and_plots(swept):
    rows = swept["rows"]
    assert rows[3]["pareto.area_speedup"] == ""
    marks = [row["pareto.area_speedup"] for row in rows[:3]]
    assert set(marks) <= {"True", "False"} and "True" in marks
    assert (swept["out"] / "plots" / "pareto-area_speedup.png").stat().st_size > 1000
    assert (swept["out"] / "plots" / "group-lanes.png").stat().st_size > 1000


def _check_rerun_is_served_from_the_cache_and_an_extension_runs_only_new_points(
        swept, tmp_path):
    sweep = load_sweep(str(swept["file"]))
    results, stats = run_sweep(sweep, out=swept["out"], cache_dir=swept["cache"])
    assert (stats.tasks, stats.cached, stats.computed) == (9, 9, 0)
    assert all(result["cached"] for result in results.values())
    tmp_path.mkdir()
    extended = tmp_path / "extended.toml"
    extended.write_text(SWEEP.replace("[1, 2, 4]", "[1, 2, 3, 4]"))
    results, stats = run_sweep(load_sweep(str(extended)), out=tmp_path / "out",
                               cache_dir=swept["cache"])
    assert (stats.tasks, stats.cached, stats.computed) == (12, 9, 3)
    new = [r for r in results.values() if not r["cached"]]
    assert {r["config_hash"] for r in new} == {
        CONFIGS["tiny"].with_overrides(["scatter_lanes=3"]).hash}


def _check_results_of_changed_sources_are_marked_stale(swept, monkeypatch):
    import dse.runner
    monkeypatch.setattr(dse.runner, "source_fingerprint", lambda packages: "edited")
    sweep = load_sweep(str(swept["file"]))
    results, stats = run_sweep(sweep, out=swept["out"], cache_dir=swept["cache"])
    assert (stats.cached, stats.stale, stats.computed) == (9, 9, 0)
    assert all(result["stale"] for result in results.values())
    # the workers fingerprint the real sources: measured again, the results are up to date
    # with those, and stale against the (patched) fingerprint the driver planned with
    results, stats = run_sweep(sweep, out=swept["out"], cache_dir=swept["cache"],
                               steps=["model"], recompute_stale=True)
    assert (stats.cached, stats.computed, stats.stale) == (0, 3, 3)
    assert all(r["stale"] and r["sources"] != "edited" for r in results.values())
    monkeypatch.undo()
    results, stats = run_sweep(sweep, out=swept["out"], cache_dir=swept["cache"],
                               steps=["model"])
    assert (stats.cached, stats.stale, stats.computed) == (3, 0, 0)


def test_a_killed_worker_is_retried_without_a_lost_or_duplicated_row(
        tmp_path, ray_local, monkeypatch):
    monkeypatch.setenv(CRASH_ENV, "generate")
    sweep = parse_sweep({"base": "tiny", "steps": ["generate"],
                         "grid": [{"matchers": [1, 3]}]}, name="crash")
    cache = tmp_path / "cache"
    results, stats = run_sweep(sweep, out=tmp_path / "out", cache_dir=cache)
    assert stats.computed == 2 and stats.retried == 2 and stats.failed == 0
    assert sorted(r["attempts"] for r in results.values()) == [2, 2]
    assert all(r["status"] == "ok" for r in results.values())
    from dse.results import build_rows
    rows = build_rows(sweep, results)
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert len({row["config_hash"] for row in rows}) == 2
    assert len(list(cache.rglob("*.json"))) == 2
    assert not list(cache.rglob("*.tmp"))


def test_tool_errors_and_timeouts_are_recorded(tmp_path, ray_local):
    sweep = parse_sweep({"base": "tiny", "steps": ["generate", "area", "power"],
                         "options": {"generate": {"timeout": 0.01},
                                     "area": {"liberty_file": str(tmp_path / "none.lib")},
                                     "power": {"slices": 0}},
                         "point": [{}]}, name="faults")
    results, stats = run_sweep(sweep, out=tmp_path / "out", cache_dir=tmp_path / "cache")
    by_step = {r["step"]: r for r in results.values()}
    assert by_step["generate"]["status"] == "timeout"
    assert "timeout of 0.01 s" in by_step["generate"]["error"]
    assert by_step["area"]["status"] == "failed"
    assert f"liberty file {tmp_path / 'none.lib'} does not exist" in by_step["area"]["error"]
    assert by_step["power"]["status"] == "failed"
    assert "--slices must be at least 1" in by_step["power"]["error"]
    assert stats.failed == 3


# --------------------------------------------------------------------------------------
# pure Python: sweep files, Pareto fronts, atomic writes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("data, message", [
    ({"steps": ["generate"]}, "needs base"),
    ({"base": "tiny", "steps": ["synthesize"]}, "unknown step 'synthesize'"),
    ({"base": "tiny", "steps": ["generate"], "grid": [{"lanes": [1]}]},
     "unknown parameter 'lanes'"),
    ({"base": "tiny", "steps": ["area"], "options": {"area": {"liberty": "no"}}},
     "option liberty must be of type bool"),
    ({"base": "tiny", "steps": ["area"], "options": {"area": {"timeout": -1}}},
     "timeout must be a positive number"),
    ({"base": "tiny", "steps": ["model"]}, "step model needs [workload]"),
    ({"base": "huge", "steps": ["generate"]}, "unknown configuration 'huge'"),
])
def test_sweep_file_errors_name_the_problem(data, message):
    with pytest.raises(SweepError, match=message.replace("[", r"\[")):
        parse_sweep(data)


def test_grid_points_are_deduplicated_by_configuration_hash():
    sweep = parse_sweep({"base": "tiny", "steps": ["generate"],
                         "grid": [{"label": "a", "scatter_lanes": [1, 2]},
                                  {"label": "b", "matchers": [1, 2], "window": [[2, 2, 2]]}]})
    # lanes=2 and matchers=1 are both the base configuration: one point in both groups
    assert len(sweep.points) == 3
    base = [p for p in sweep.points if p.config == CONFIGS["tiny"]]
    assert len(base) == 1 and base[0].groups == ("a", "b")
    assert len(plan_tasks(sweep)) == 3


def test_builtin_sweeps_parse():
    for name in ("publication", "tiny"):
        sweep = load_sweep(name)
        assert sweep.points and set(sweep.steps) <= set(STEPS)


def test_pareto_front_minimizes_x_and_maximizes_y():
    rows = [{"status": "ok", "a": 1.0, "s": 1.0}, {"status": "ok", "a": 2.0, "s": 3.0},
            {"status": "ok", "a": 3.0, "s": 2.0}, {"status": "ok", "a": 2.0, "s": 3.0},
            {"status": "failed", "a": 0.5, "s": 9.0}, {"status": "ok", "a": None, "s": 5.0}]
    assert pareto_front(rows, "a", "s") == [True, True, False, True, "", ""]


def test_atomic_write_replaces_whole_files_only(tmp_path):
    path = tmp_path / "sub" / "result.json"
    write_atomic(path, "first")
    write_atomic(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]
    cache = ResultCache(tmp_path / "cache")
    cache.store({"key": "abc/generate-123", "status": "ok"})
    assert cache.load("abc/generate-123") == {"key": "abc/generate-123", "status": "ok"}
    assert cache.load("abc/area-123") is None


@pytest.mark.slow
def test_bench_step_measures_the_gather_in_its_own_folder(tmp_path, ray_local):
    """The RTL benchmark step (Verilator, about a minute): one and seven matchers of the tiny
    gather, written into the task folders only; another window is refused."""
    sweep = parse_sweep({"base": "tiny", "steps": ["bench"],
                         "options": {"bench": {"geometry": "tiny"}},
                         "grid": [{"matchers": [1, 7]}], "point": [{"window": [1, 2, 2]}]},
                        name="bench")
    results, stats = run_sweep(sweep, out=tmp_path / "out", cache_dir=tmp_path / "cache")
    by_matchers = {r["overrides"][0]: r for r in results.values()}
    one, seven = by_matchers["matchers=1"], by_matchers["matchers=7"]
    assert one["status"] == seven["status"] == "ok"
    # seven matchers compare a key with all 7 candidates at once: a shorter key interval
    assert seven["metrics"]["key_interval"] < one["metrics"]["key_interval"]
    for result in (one, seven):
        assert list(Path(result["workdir"]).glob("bench/build/bench/sic-int8-v4-m*.json"))
    refused = by_matchers["window=1,2,2"]
    assert refused["status"] == "failed" and "2x2x2 window only" in refused["error"]


def test_progress_lines_show_every_change_at_most_once_per_interval():
    import io
    from dse.runner import progress_printer
    stream = io.StringIO()
    show = progress_printer(stream, interval=0.0)
    for counts in ({"done": 0, "running": 0, "failed": 1, "total": 3},
                   {"done": 0, "running": 2, "failed": 1, "total": 3},
                   {"done": 0, "running": 2, "failed": 1, "total": 3},
                   {"done": 2, "running": 0, "failed": 1, "total": 3},
                   {"done": 2, "running": 0, "failed": 1, "total": 3}):
        show(counts)
    lines = [line.split("  [")[0] for line in stream.getvalue().splitlines()]
    assert lines == ["points 1/3: 0 done, 0 running, 1 failed",
                     "points 1/3: 0 done, 2 running, 1 failed",
                     "points 3/3: 2 done, 0 running, 1 failed"]
    slow = io.StringIO()
    show = progress_printer(slow, interval=3600.0)
    show({"done": 0, "running": 0, "failed": 0, "total": 2})
    show({"done": 0, "running": 1, "failed": 0, "total": 2})   # within the interval: held
    show({"done": 2, "running": 0, "failed": 0, "total": 2})   # the end is always shown
    assert len(slow.getvalue().splitlines()) == 2
