"""Evaluate a case: every GEMM of every block, dense and Focus, cycles, traffic and energy.

:class:`Evaluator` combines a cycle model (``published``: :mod:`perf.published`; ``rtl``:
:class:`perf.engine_model.EngineModel` with a calibration table) with an energy model
(:class:`perf.energy.PublishedEnergy`, which uses the published DRAM dataflow, or
:class:`perf.energy.OperationEnergy`, which uses ours, :func:`perf.dataflow.our_traffic`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from . import published
from .cycles import ArrayShape, Cycles
from .dataflow import our_traffic, published_dram
from .energy import OperationEnergy, PublishedEnergy
from .engine_model import EngineModel
from .sparsity import InputSparsity, SparsityProfile, dense_input, layer_macs
from .workload import Case, Gemm

__all__ = ["LayerResult", "ModeResult", "CaseResult", "Evaluator", "geomean"]

#: Where each GEMM's output goes (its compression sets the output bytes in our dataflow):
#: (input name, block offset); None = not concentrated (K and V are only pruned).
_CONSUMERS = {"q": ("query", 0), "k": None, "v": None, "attn": ("o_proj", 0),
              "o": ("gate_proj", 0), "gate": ("down_proj", 0), "up": ("down_proj", 0),
              "down": ("q_proj", 1)}


def _ceil(a, b):
    return -(-a // b)


@dataclass
class LayerResult:
    """One GEMM of one block in one mode."""

    block: int
    gemm: str
    cycles: Cycles
    macs: float
    dense_macs: float
    dram_bytes: float
    sram_bytes: float
    ops: dict[str, float]
    energy: dict[str, float]


@dataclass
class ModeResult:
    """All layers of a case in one mode (``dense`` or ``focus``)."""

    mode: str
    layers: list[LayerResult] = field(default_factory=list)

    @property
    def cycles(self) -> Cycles:
        total = Cycles()
        for layer in self.layers:
            total = total + layer.cycles
        return total

    def total(self, attribute: str) -> float:
        return sum(getattr(layer, attribute) for layer in self.layers)

    @property
    def energy(self) -> dict[str, float]:
        result: dict[str, float] = {}
        for layer in self.layers:
            for key, value in layer.energy.items():
                result[key] = result.get(key, 0.0) + value
        return result


@dataclass
class CaseResult:
    """Dense and Focus results of one case."""

    case: Case
    sparsity_source: str
    dense: ModeResult
    focus: ModeResult

    @property
    def speedup(self) -> float:
        return self.dense.cycles.total / self.focus.cycles.total

    @property
    def energy_efficiency(self) -> float:
        return sum(self.dense.energy.values()) / sum(self.focus.energy.values())

    @property
    def op_density(self) -> float:
        return self.focus.total("macs") / self.focus.total("dense_macs")


def geomean(values) -> float:
    values = list(values)
    product = 1.0
    for value in values:
        product *= value
    return product ** (1.0 / len(values)) if values else float("nan")


class Evaluator:
    """Evaluates cases with one cycle model and one energy model.

    Parameters
    ----------
    shape : ArrayShape
        The configuration's hardware parameters.
    cycles : {"rtl", "published"}
    calibration : perf.calibration.Calibration, optional
        Needed for ``cycles="rtl"``.
    energy : PublishedEnergy or OperationEnergy
    """

    def __init__(self, shape: ArrayShape, *, cycles: str, calibration=None, energy=None):
        if cycles not in ("rtl", "published"):
            raise ValueError(f"cycles must be 'rtl' or 'published', got {cycles!r}")
        if cycles == "rtl" and calibration is None:
            raise ValueError("the RTL cycle model needs a calibration table")
        self.shape = shape
        self.cycles_model = cycles
        self.engine = EngineModel(calibration.model, shape) if cycles == "rtl" else None
        self.energy_model = energy if energy is not None else OperationEnergy()

    # ------------------------------------------------------------------ cycles

    def _layer_cycles(self, gemm: Gemm, case: Case, item: InputSparsity, focus: bool) -> Cycles:
        model = case.model
        if self.engine is None:
            if focus:
                return published.focus_layer(gemm, model, case.sequence, item, self.shape)
            return published.dense_layer(gemm, model, case.sequence, self.shape)
        if gemm.kind == "attention":
            return self.engine.attention(model, item, focus=focus)
        return self.engine.linear(gemm, item, focus=focus)

    # ------------------------------------------------------------------ operations

    def _ops(self, gemm: Gemm, case: Case, item: InputSparsity, cycles: Cycles,
             focus: bool) -> dict[str, float]:
        shape, model = self.shape, case.model
        tokens = item.tokens
        if gemm.kind == "linear":
            outputs = tokens * gemm.out_features
            adds = outputs * _ceil(gemm.in_features, shape.rows)
            keys = tokens * _ceil(gemm.out_features, shape.cols)
        else:
            head_slots = _ceil(model.head_dim, shape.rows)
            outputs = 0.5 * model.heads * (tokens * tokens + tokens * model.head_dim)
            adds = 0.5 * model.heads * (tokens * head_slots * tokens
                                        + tokens * _ceil(tokens, shape.rows) * model.head_dim)
            keys = tokens * _ceil(model.hidden, shape.cols)
        return {"pe_cycles": cycles.vectors * shape.rows * shape.cols, "scatter_adds": adds,
                "convert_elements": outputs, "gather_keys": keys if focus else 0.0,
                "sec_vectors": 0.0}

    # ------------------------------------------------------------------ a mode

    def _mode(self, case: Case, profile: SparsityProfile | None, focus: bool) -> ModeResult:
        model = case.model
        result = ModeResult("focus" if focus else "dense")
        dense_cache: dict[str, LayerResult] = {}
        sec_events = {event.block: event for event in (profile.sec if focus else [])}
        for block in range(model.blocks):
            for gemm in model.gemms():
                if not focus and gemm.name in dense_cache:   # every dense block is the same
                    result.layers.append(dataclasses.replace(dense_cache[gemm.name], block=block))
                    continue
                if focus:
                    item = profile.inputs[gemm.input][block]
                else:
                    slots = _ceil(model.input_width(gemm.input), self.shape.rows)
                    item = dense_input(case.sequence, slots, self.shape.m_tile)
                cycles = self._layer_cycles(gemm, case, item, focus)
                ops = self._ops(gemm, case, item, cycles, focus)
                if gemm.kind == "attention" and block in sec_events and self.engine is not None:
                    sec = self.engine.sec(case, sec_events[block], cycles.total)
                    cycles = cycles + sec
                    event = sec_events[block]
                    ops["sec_vectors"] = (case.text_tokens * model.heads
                                          * _ceil(event.tokens, self.shape.sort_width)
                                          + sec.parts["sec"])
                macs, dense_macs = layer_macs(gemm, model, case.sequence,
                                              item if focus else None, self.shape.rows)
                consumer = None
                if focus and _CONSUMERS[gemm.name] is not None:
                    name, offset = _CONSUMERS[gemm.name]
                    if block + offset < model.blocks:
                        consumer = profile.inputs[name][block + offset]
                if isinstance(self.energy_model, PublishedEnergy):
                    dram = published_dram(gemm, model, case.sequence, item if focus else None)
                    sram = 0.0
                else:
                    traffic = our_traffic(gemm, model, item, consumer, self.shape, focus=focus)
                    dram = traffic.pop("dram")
                    sram = sum(traffic.values())
                energy = self.energy_model.energy(cycles=cycles.total, dram_bytes=dram, ops=ops,
                                                  sram_bytes=sram, focus=focus)
                layer = LayerResult(block, gemm.name, cycles, macs, dense_macs, dram, sram, ops,
                                    energy)
                result.layers.append(layer)
                if not focus:
                    dense_cache[gemm.name] = layer
        return result

    def evaluate(self, case: Case, profile: SparsityProfile) -> CaseResult:
        """Dense and Focus results of ``case`` with the sparsity ``profile``."""
        profile.validate(case)
        if profile.m_tile != self.shape.m_tile or profile.vector_size != self.shape.rows:
            raise ValueError(f"sparsity of {case.name} was counted with m_tile {profile.m_tile} and "
                             f"vector size {profile.vector_size}; the configuration has m_tile "
                             f"{self.shape.m_tile} and rows {self.shape.rows}")
        return CaseResult(case, profile.source, self._mode(case, None, False),
                          self._mode(case, profile, True))
