"""Hierarchical generation: each distinct block elaborated once, emitted once, reused.

Pure Python except the last test, which builds two small designs with Verilator.
"""

import json
import shutil

import pytest

from gen.blocks import BLOCKS, Derived
from gen.cli import main
from gen.config import CONFIGS
from gen.generate import block_design, generate
from gen.library import ModuleLibrary, module_name
from gen.lint import LintError, lint
from rtl.arith import Fp16Format, Int8Format
from rtl.hierarchy import INLINE, ModuleInstance
from rtl.processing_element import ProcessingElement
from rtl.systolic_array import SystolicArray

pytestmark = pytest.mark.gen

TINY = CONFIGS["tiny"]


def _generate(config, out, cache):
    manifest, stats = generate(config, out, cache=cache, jobs=1, log=None)
    return manifest, stats


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    manifest, _ = _generate(TINY, out, None)
    return out, manifest


def test_each_module_is_defined_in_exactly_one_file(tiny):
    out, manifest = tiny
    owners = {}
    for entry in manifest["files"]:
        text = (out / entry["file"]).read_text()
        assert entry["defines"][0] == entry["module"]
        for module in entry["defines"]:
            assert module not in owners, f"{module} in {owners.get(module)} and {entry['file']}"
            owners[module] = entry["file"]
            assert f"module {module}(" in text or f"module \\{module} (" in text
    # Every module the engine needs is the top module of one file; the engine's own file
    # holds only its glue and private submodules.
    engine = next(b for b in manifest["blocks"] if b["block"] == "focus_engine")
    array = next(b for b in manifest["blocks"] if b["block"] == "systolic_array")
    engine_file = next(f for f in manifest["files"] if f["module"] == engine["top"])
    assert array["top"] in engine_file["instantiates"]
    assert all(module.startswith(engine["top"]) for module in engine_file["defines"])
    assert array["file"] in engine["files"] and engine["files"][-1] == engine["file"]


def test_manifest_needs_are_closed_and_in_compile_order(tiny):
    _, manifest = tiny
    by_module = {entry["module"]: entry for entry in manifest["files"]}
    for entry in manifest["files"]:
        position = {file: i for i, file in enumerate(entry["needs"])}
        for child in entry["instantiates"]:
            assert position[by_module[child]["file"]] < position[entry["file"]]
    for block in manifest["blocks"]:
        assert set(block["files"]) == set(by_module[block["top"]]["needs"])


def test_array_instantiates_one_processing_element_module(tiny):
    _, manifest = tiny
    array = next(b for b in manifest["blocks"] if b["block"] == "systolic_array")
    pe = next(b for b in manifest["blocks"] if b["block"] == "processing_element")
    library = ModuleLibrary()
    top = library.build(SystolicArray, Derived(TINY).fmt, rows=TINY.rows, cols=TINY.cols)
    assert top.module == array["top"]
    assert library.instance_counts(top.module)[pe["top"]] == TINY.rows * TINY.cols


def test_module_names_follow_the_parameters_only():
    fmt = Int8Format()
    assert module_name(SystolicArray, (fmt,), {"rows": 4, "cols": 4}) == \
        module_name(SystolicArray, (Int8Format(),), {"cols": 4, "rows": 4})
    names = {module_name(SystolicArray, (fmt,), {"rows": 4, "cols": 5}),
             module_name(SystolicArray, (fmt,), {"rows": 4, "cols": 4}),
             module_name(SystolicArray, (Fp16Format(),), {"rows": 4, "cols": 4}),
             module_name(SystolicArray, (Fp16Format(add_latency=3),), {"rows": 4, "cols": 4})}
    assert len(names) == 4
    assert all(name.startswith("focus_systolic_array_") for name in names)
    with pytest.raises(TypeError, match="deterministic repr"):
        module_name(SystolicArray, (object(),), {})


def test_module_instance_stands_in_for_the_block():
    library = ModuleLibrary()
    array = library.build(SystolicArray, Int8Format(), rows=2, cols=3)
    assert isinstance(array, ModuleInstance)
    assert (array.rows, array.cols, array.latency) == (2, 3, array.component.latency)
    assert set(array.signature.members) == set(array.component.signature.members)
    inline = INLINE.build(SystolicArray, Int8Format(), rows=2, cols=3)
    assert isinstance(inline, SystolicArray)
    assert isinstance(inline.pes[1][2], ProcessingElement)
    inline._MustUse__silence = True


def test_subset_of_blocks_brings_what_it_needs(tmp_path):
    manifest, _ = generate(TINY, tmp_path, blocks="systolic_array", cache=None, jobs=1,
                           log=None)
    assert [b["block"] for b in manifest["blocks"]] == ["systolic_array"]
    assert sorted(f["module"].rsplit("_", 1)[0] for f in manifest["files"]) == \
        ["focus_processing_element", "focus_systolic_array"]
    assert sorted(p.name for p in tmp_path.glob("*.v")) == \
        sorted(f["file"] for f in manifest["files"])
    with pytest.raises(ValueError, match="unknown block 'array'; known: focus_engine"):
        generate(TINY, tmp_path, blocks="array", cache=None, log=None)


def test_set_overrides_get_their_own_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FOCUS_MODULE_CACHE", "")
    for change in ("cols=3", "cols=5"):
        assert main(["--config", "tiny", "--set", change, "--blocks", "offset_decoder"]) == 0
    folders = sorted(p.name for p in (tmp_path / "build" / "verilog").iterdir())
    assert folders == sorted(f"tiny-{TINY.with_overrides([c]).hash}"
                             for c in ("cols=3", "cols=5"))
    assert main(["--config", "tiny", "--blocks", "offset_decoder"]) == 0
    assert (tmp_path / "build" / "verilog" / "tiny" / "manifest.json").exists()


def test_changing_one_parameter_regenerates_only_its_modules(tmp_path):
    cache = tmp_path / "cache"
    first, stats = _generate(TINY, tmp_path / "a", cache)
    assert stats.reused == [] and len(stats.elaborated) == len(first["files"])
    again, stats = _generate(TINY, tmp_path / "b", cache)
    assert stats.elaborated == [] and again["files"] == first["files"]
    changed = TINY.replace(matchers=3)
    second, stats = _generate(changed, tmp_path / "c", cache)
    before = {entry["module"] for entry in first["files"]}
    after = {entry["module"] for entry in second["files"]}
    assert set(stats.elaborated) == after - before
    assert set(stats.reused) == after & before
    kinds = {name.rsplit("_", 1)[0] for name in stats.elaborated}
    assert {"focus_similarity_matcher", "focus_similarity_gather", "focus_engine"} <= kinds
    assert not kinds & {"focus_systolic_array", "focus_processing_element",
                        "focus_scatter_accumulator", "focus_semantic_concentrator",
                        "focus_top_k_sorter"}
    # Cached text is the text a fresh elaboration gives.
    fresh, _ = _generate(changed, tmp_path / "d", None)
    for entry in fresh["files"]:
        assert (tmp_path / "c" / entry["file"]).read_bytes() == \
            (tmp_path / "d" / entry["file"]).read_bytes()


def test_two_configurations_lint_together_without_a_clash(tmp_path, tiny):
    out, _ = tiny
    other = tmp_path / "other"
    _generate(TINY.replace(cols=3, matchers=4), other, None)
    roots = lint([out, other], log=None)
    assert len(roots) >= 4          # both engines, and the blocks no engine instantiates
    # A file of the same name with other contents is a clash.
    clash = tmp_path / "clash"
    shutil.copytree(other, clash)
    manifest = json.loads((clash / "manifest.json").read_text())
    victim = clash / manifest["files"][0]["file"]
    victim.write_text(victim.read_text().replace("endmodule", "endmodule\n// edited", 1))
    with pytest.raises(LintError, match="module clash"):
        lint([out, clash], log=None)


def test_every_registered_block_builds_from_derived_parameters():
    library = ModuleLibrary()
    for config in (CONFIGS["tiny"], CONFIGS["paper"]):
        for block in BLOCKS:
            instance = block.build(library, Derived(config))
            assert instance.module in library.specs


def test_changing_one_parameter_recompiles_only_its_verilator_blocks(tmp_path, monkeypatch):
    """Hierarchical Verilator builds: after ``offset_bits`` changes, only the offset encoder's
    C++ is compiled again; the analyzer's and the sorter's are compiler-cache hits.

    Builds and compiler cache are private to the test: a machine-wide cache that already
    holds the changed encoder (an earlier run of this test) would turn its miss into a hit."""
    from sim_cocotb import runner
    from sim_cocotb.runner import build, ccache_results
    if shutil.which("ccache") is None:
        pytest.skip("ccache is not installed (make setup as root installs it)")
    monkeypatch.setattr(runner, "BUILD_ROOT", tmp_path / "sim")
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path / "ccache"))
    designs = [block_design(TINY.replace(offset_bits=bits), "semantic_concentrator")
               for bits in (3, 4)]
    build(designs[0], waves=False, hierarchical="all")
    results = ccache_results(build(designs[1], waves=False, hierarchical="all"))
    kept = {module for module in designs[0].instances if module in designs[1].instances}
    changed = set(designs[1].instances) - kept - {designs[1].top}
    assert {m.rsplit("_", 1)[0] for m in changed} == {"focus_offset_encoder"}
    for module in designs[1].instances:
        if module == designs[1].top:
            continue
        result = results[f"V{module}__ALL.cpp"]
        assert result == ("miss" if module in changed else "hit"), (module, result)
