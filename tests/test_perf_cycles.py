"""System model (perf): the published cycle and energy models, the calibrated RTL model."""

import json
import math

import numpy as np
import pytest

from gen.config import CONFIGS
from perf import published
from perf.calibrate import predict_run, table_from_docs
from perf.calibration import CalibrationError, load_table
from perf.cycles import ArrayShape
from perf.dataflow import published_dram
from perf.energy import PublishedEnergy, load_published
from perf.engine_model import EngineModel
from perf.evaluate import Evaluator
from perf.sparsity import count_tiles, layer_macs
from perf.workload import CASES, ModelShape, custom_case

pytestmark = pytest.mark.perf

PUBLISHED = load_published()
PAPER_SHAPE = ArrayShape.from_config(CONFIGS["paper"])


def ceil(a, b):
    return -(-a // b)


# --------------------------------------------------------------------------------------
# Published model: dense mode against the published result tables
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_published_dense_cycles_equal_the_published_counts(name):
    case = CASES[name]
    total = sum(published.dense_layer(g, case.model, case.sequence, PAPER_SHAPE).total
                for g in case.model.gemms()) * case.model.blocks
    assert total == PUBLISHED["cases"][name]["dense"]["cycles"]


@pytest.mark.parametrize("name", list(CASES))
def test_published_dense_dram_and_energy_equal_the_published_figures(name):
    case = CASES[name]
    reference = PUBLISHED["cases"][name]["dense"]
    dram = sum(published_dram(g, case.model, case.sequence, None)
               for g in case.model.gemms()) * case.model.blocks
    assert dram == reference["dram_bytes"]
    energy = PublishedEnergy().energy(cycles=reference["cycles"], dram_bytes=dram, focus=False)
    assert energy["dram"] == pytest.approx(reference["energy_dram_mj"], rel=1e-12)
    assert energy["sram"] == pytest.approx(reference["energy_sram_mj"], rel=1e-9)
    assert energy["core"] == pytest.approx(reference["energy_core_mj"], rel=1e-9)


def test_published_focus_energy_constants_match_a_published_case():
    """Power x time with the published Focus units reproduces a published Focus energy."""
    reference = PUBLISHED["cases"]["llava-video/videomme"]["focus"]
    energy = PublishedEnergy().energy(cycles=reference["cycles"], dram_bytes=reference["dram_bytes"],
                                      focus=True)
    assert sum(energy.values()) == pytest.approx(reference["energy_mj"], rel=1e-9)


def test_published_dense_layer_kinds_follow_the_spec_formula():
    """Every layer kind of LLaVA-Video: (rows + 93) t ceil(N/32) ceil(K/32), attention per head."""
    case = CASES["llava-video/videomme"]
    s = case.sequence
    t = ceil(s, 1024)
    fold = ceil(s, t) + 93
    expected = {"q": fold * t * 112 * 112, "k": fold * t * 16 * 112, "v": fold * t * 16 * 112,
                "o": fold * t * 112 * 112, "gate": fold * t * 592 * 112,
                "up": fold * t * 592 * 112, "down": fold * t * 112 * 592,
                "attn": fold * t * ceil(s, 32) * 4 * 28}
    for gemm in case.model.gemms():
        assert published.dense_layer(gemm, case.model, s, PAPER_SHAPE).total == expected[gemm.name]


# --------------------------------------------------------------------------------------
# Published model: Focus mode against the formula evaluated on raw masks
# --------------------------------------------------------------------------------------


def spec_focus_layer(gemm, model, sequence, zero, similar, shape):
    """The spec system.md 2 formula, evaluated directly on (tokens, slots) masks in the
    authors' representation (pruned tokens are all-zero rows)."""
    slots = zero.shape[1]
    vectors = int((zero.size - (zero.sum() + similar.sum())) / slots)
    tokens = int(zero.shape[0] - np.all(zero, axis=1).sum())
    nonzero_tokens = int((zero.size - zero.sum()) // slots)
    if gemm.kind == "attention":
        heads, hd = model.heads, model.head_dim
        tq, tk = ceil(vectors, shape.m_tile), ceil(tokens, shape.m_tile)
        qk = (vectors // tq + 93) * tq * ceil(tokens, 32) * ceil(hd, 32) if vectors else 0
        sv = (tokens // tk + 93) * tk * ceil(tokens, 32) * ceil(hd, 32)
        compute = (qk + sv) / 2 * heads
        scatter = ceil(nonzero_tokens * ceil(hd * heads, 32) * ceil(sequence, 32), shape.lanes)
        return compute + max(0, scatter - compute)
    k, n = gemm.in_features, gemm.out_features
    t = ceil(tokens, shape.m_tile)
    compute = (vectors // t + 93) * t * ceil(n, 32) * ceil(k, 32) if vectors else 0
    scatter = ceil(nonzero_tokens * ceil(k, 32) * ceil(n, 32), shape.lanes)
    per_tile = 8 * shape.m_tile * 3
    gather = per_tile * ceil(tokens, shape.m_tile) * ceil(n, 96)
    return compute + max(0, max(scatter, gather) - compute) + per_tile


def test_published_focus_layers_follow_the_formula_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    model = ModelShape("test", blocks=1, hidden=256, heads=2, kv_dim=64, ffn=512)
    case = custom_case("masks", frames=10, rows=6, cols=7, model=model)
    shape = ArrayShape(32, 32, 64, 2, 1, 32, "fp16")
    s = case.sequence
    for gemm in model.gemms():
        width = model.input_width(gemm.input)
        slots = ceil(width, 32)
        pruned = rng.random(s) < rng.uniform(0.0, 0.7)
        similar = (rng.random((s, slots)) < rng.uniform(0.2, 0.9)) & ~pruned[:, None]
        zero = (rng.random((s, slots)) < 0.05) & ~similar
        rows = np.flatnonzero(~pruned)
        item = count_tiles(similar[rows], zero[rows], shape.m_tile)
        authors_zero = zero | pruned[:, None]
        expected = spec_focus_layer(gemm, model, s, authors_zero, similar, shape)
        assert published.focus_layer(gemm, model, s, item, shape).total == expected, gemm.name


# --------------------------------------------------------------------------------------
# Calibration tables
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["paper", "small"])
def test_committed_tables_load_and_predict_the_engine_benchmarks_within_2_percent(name):
    table = load_table(f"perf/data/calibration/{name}.json", CONFIGS[name], name)
    assert table.config_hash == CONFIGS[name].hash
    runs = table.data["measurements"]["engine_runs"]
    gather = table.data["measurements"]["gather"]
    shape = ArrayShape.from_config(CONFIGS[name])
    assert any(run["role"] == "held-out" for run in runs)
    for run in runs:
        predicted = predict_run(table.model, run, shape, gather)
        assert abs(predicted / run["cycles"] - 1) < 0.02, run["source"]


@pytest.mark.parametrize("name", ["paper", "small"])
def test_committed_tables_are_what_the_recorded_figures_give(name):
    """The committed table is reproducible from perf/recorded.py (no hand edits)."""
    committed = json.loads(open(f"perf/data/calibration/{name}.json").read())
    rebuilt = table_from_docs(CONFIGS[name], name)
    assert committed["model"] == rebuilt["model"]
    assert committed["config_hash"] == rebuilt["config_hash"]


def test_a_table_for_another_configuration_is_refused(tmp_path):
    other = CONFIGS["paper"].replace(matchers=7)
    with pytest.raises(CalibrationError) as error:
        load_table("perf/data/calibration/paper.json", other, "paper+matchers=7")
    message = str(error.value)
    assert CONFIGS["paper"].hash in message and other.hash in message and "stale" in message
    with pytest.raises(CalibrationError, match="no calibration table"):
        load_table(tmp_path / "missing.json", other, "x")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": "focus-perf-calibration/1",
                                  "config_hash": other.hash, "model": {}}))
    with pytest.raises(CalibrationError, match="lacks numeric model value"):
        load_table(broken, other, "x")


# --------------------------------------------------------------------------------------
# The RTL-calibrated engine model
# --------------------------------------------------------------------------------------


def event_reference(values, tile_tokens, folds, n_slices, gathered):
    """Tile-by-tile timing, written from the physical rule rather than the vectorized sum:
    the gather takes a finished tile from the one-tile buffer when it is free, and the next
    tile's compute starts at that moment (its output needs the buffer)."""
    compute_end = gather_end = pending = 0.0
    for tokens, row in zip(tile_tokens, folds):
        compute = values["tile_overhead_focus"]
        for p in row:
            period = max(p, values["array_min_period"]) if p else 0
            compute += max(period, math.ceil(tokens / values["scatter_lanes"]))
        gather = values["gather_key_interval"] * tokens + values["gather_flush"]
        for _ in range(n_slices):
            start = max(compute_end, gather_end) if gathered else compute_end
            gather_end = start + pending        # the previous tile's gather runs from here
            compute_end = start + compute
            pending = gather if gathered else 0.0
    return max(compute_end, gather_end) + pending


def test_engine_run_matches_a_tile_by_tile_simulation(seed):
    rng = np.random.default_rng(seed)
    values = {"array_min_period": 15, "scatter_lanes": 2, "tile_overhead_focus": 5,
              "tile_overhead_dense": 0, "edge_dense": 0, "edge_gathered": 0,
              "gather_key_interval": 7, "gather_flush": 13}
    model = EngineModel(values, ArrayShape(8, 8, 64, 2, 1, 8, "int8"))
    for _ in range(20):
        tiles = int(rng.integers(1, 5))
        tile_tokens = rng.integers(1, 65, size=tiles)
        folds = np.minimum(rng.integers(0, 80, size=(tiles, int(rng.integers(1, 6)))),
                           tile_tokens[:, None])
        n_slices = int(rng.integers(1, 4))
        for gathered in (False, True):
            got = model.run(tile_tokens, folds, n_slices, focus=True, gathered=gathered, edge=False)
            expected = event_reference(values, tile_tokens, folds, n_slices, gathered)
            assert got.total == pytest.approx(expected), (tile_tokens, folds, n_slices, gathered)
            assert sum(got.parts.values()) == pytest.approx(got.total)


def test_engine_dense_fold_costs_its_length_once_the_reload_is_hidden():
    values = json.loads(open("perf/data/calibration/paper.json").read())["model"]
    model = EngineModel(values, PAPER_SHAPE)
    long = model.run(np.array([1024]), np.full((1, 8), 1024), 2, focus=False, gathered=False)
    assert long.total == 2 * 8 * 1024 + values["edge_dense"]
    short = model.run(np.array([40]), np.full((1, 8), 40), 1, focus=False, gathered=False)
    assert short.parts["reload"] == 8 * (values["array_min_period"] - 40)


def test_rtl_and_published_models_agree_on_dense_macs_and_differ_on_folds():
    """Both cycle models count the same MACs; ours overlaps folds, so dense is faster."""
    case = CASES["minicpm-v/mvbench"]
    table = load_table("perf/data/calibration/paper.json", CONFIGS["paper"], "paper")
    ours = Evaluator(PAPER_SHAPE, cycles="rtl", calibration=table, energy=PublishedEnergy())
    theirs = Evaluator(PAPER_SHAPE, cycles="published", energy=PublishedEnergy())
    from perf.sparsity import density_profile
    profile = density_profile(case, 0.24, vector_size=32, m_tile=1024)
    a, b = ours.evaluate(case, profile), theirs.evaluate(case, profile)
    assert a.dense.total("macs") == b.dense.total("macs")
    assert a.dense.cycles.total < b.dense.cycles.total
    assert a.op_density == pytest.approx(0.24, abs=1e-3)   # whole vectors per tile and slot
    macs = sum(layer_macs(g, case.model, case.sequence, None, 32)[1] for g in case.model.gemms())
    assert a.dense.total("macs") == macs * case.model.blocks


def test_fitting_recovers_known_tile_overheads_and_edges():
    """Engine runs generated by the model with known overheads and edges are fitted back."""
    from perf.calibrate import fit_engine
    shape = ArrayShape(8, 8, 64, 2, 1, 8, "int8")
    truth = {"array_min_period": 15, "scatter_lanes": 2, "gather_key_interval": 7,
             "gather_flush": 13, "tile_overhead_dense": 3, "tile_overhead_focus": 6,
             "edge_dense": 90, "edge_gathered": 40}
    gather = {"1": {"key_interval": 7, "flush": 13}, "7": {"key_interval": 1, "flush": 16}}
    runs = []
    for tiles in (4, 8):
        for mode, matchers, vectors in (("dense", 1, 64 * 8 * tiles), ("focus", 1, 90 * tiles),
                                        ("focus", 7, 90 * tiles)):
            run = {"mode": mode, "matchers": matchers, "tokens": 64, "slices": 8, "tiles": tiles,
                   "vectors": vectors, "role": "fit", "workload": mode}
            run["cycles"] = predict_run(truth, run, shape, gather)
            runs.append(run)
    fitted, provenance = fit_engine(truth, runs, shape, gather, 1, {})
    assert fitted == pytest.approx({"tile_overhead_dense": 3, "edge_dense": 90,
                                    "tile_overhead_focus": 6, "edge_gathered": 40})
    assert set(provenance) == set(fitted)


def _measured_table(path, config, **overrides):
    """A ``focus-power-energy/1`` table with round numbers (as python -m power writes it)."""
    pj = {"pe_cycle": 10.0, "pe_cycle_dynamic": 4.0, "pe_cycle_concentrated_dynamic": 6.0,
          "scatter_add": 20.0, "scatter_add_dynamic": 2.0, "convert_element": 30.0,
          "convert_element_dynamic": 3.0, "gather_key": 900.0, "gather_key_dynamic": 500.0,
          "sec_vector": 50.0, "sec_vector_dynamic": 7.0}
    mw = {"array_idle": 1000.0, "scatter_idle": 100.0, "converter_idle": 10.0,
          "glue_idle": 1.0, "gather_idle": 50.0, "tile_buffer_idle": 2.0,
          "sec_total_idle": 20.0}
    table = {"format": "focus-power-energy/1", "status": "MEASURED", "frequency_hz": 2e8,
             "pj": {k: {"value": v} for k, v in pj.items()},
             "mw": {k: {"value": v} for k, v in mw.items()},
             "configuration": {"name": "paper", "hash": config.hash}}
    table.update(overrides)
    path.write_text(json.dumps(table))
    return path


def test_measured_energy_is_idle_power_times_time_plus_dynamic_energy_per_operation(tmp_path):
    """With a measured table, each block costs idle mW x run time + dynamic pJ x operations,
    scaled from 0.18 um to 28 nm; a dense accelerator has no gather, tile buffer or SEC."""
    from perf.energy import LOGIC_SCALE_TO_28NM, OperationEnergy
    config = CONFIGS["paper"]
    model = OperationEnergy(_measured_table(tmp_path / "t.json", config), config)
    ops = {"pe_cycles": 1e6, "scatter_adds": 1e4, "convert_elements": 1e3,
           "gather_keys": 10.0, "sec_vectors": 100.0}
    cycles = 2e5                                    # 1 ms at 200 MHz
    scale = LOGIC_SCALE_TO_28NM * 1e-9              # pJ at 0.18 um -> mJ at 28 nm
    focus = model.energy(cycles=cycles, dram_bytes=0, ops=ops, sram_bytes=0, focus=True)
    dense = model.energy(cycles=cycles, dram_bytes=0, ops=ops, sram_bytes=0, focus=False)
    assert focus["array"] == pytest.approx((1000e-3 * 1e-3 * 1e12 + 1e6 * 6.0) * scale)
    assert dense["array"] == pytest.approx((1000e-3 * 1e-3 * 1e12 + 1e6 * 4.0) * scale)
    assert focus["gather"] == pytest.approx((50e-3 * 1e-3 * 1e12 + 10 * 500.0) * scale)
    assert focus["sec"] == pytest.approx((20e-3 * 1e-3 * 1e12 + 100 * 7.0) * scale)
    assert focus["tile_buffer"] == pytest.approx(2e-3 * 1e-3 * 1e12 * scale)
    assert dense["gather"] == dense["sec"] == dense["tile_buffer"] == 0.0
    assert dense["control"] == pytest.approx(1e-3 * 1e-3 * 1e12 * scale)
    assert focus["leakage"] == pytest.approx(12.81 * 1e-3)      # published SRAM leakage, 1 ms
    assert "measured" in model.description and not model.placeholder


@pytest.mark.parametrize("kind,key", [("mw", "gather_idle"), ("pj", "pe_cycle")])
def test_measured_energy_table_missing_an_entry_is_refused(tmp_path, kind, key):
    from perf.energy import OperationEnergy
    config = CONFIGS["paper"]
    path = _measured_table(tmp_path / "t.json", config)
    table = json.loads(path.read_text())
    del table[kind][key]
    path.write_text(json.dumps(table))
    with pytest.raises(ValueError, match=f"missing.*'{key}'"):
        OperationEnergy(path, config)
