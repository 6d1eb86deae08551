"""Memory traffic of one GEMM: DRAM bytes and on-chip SRAM bytes, from a stated dataflow.

Two dataflows:

:func:`published_dram`
    The authors' DRAM byte count (their memory simulator, fp16, 2 bytes per element, an
    input buffer of 1024 tokens x 32 channels and an output chunk of 96 columns). Dense
    linear: input ``S K ceil(N / 96)``, weights ``K N ceil(S / 1024)``, output ``S N``
    elements. Focus linear: ``c = ceil(unique / T)`` clusters; input ``c K ceil(N / 96)``,
    weights ``K N ceil(tokens / 1024)``, output ``c N`` (written at the input's compression).
    Attention (dense): Q K^T as a linear layer with ``K = head_dim, N = S`` and S V with
    ``K = S, N = head_dim``, per head, halved. Attention (Focus): Q K^T input ``c head_dim
    ceil(nk / 96)`` and keys ``head_dim nk ceil(nk / 1024)`` once, S V as dense per head,
    all halved, plus ``c S`` elements of detection output. Divergence: the authors' attention
    byte count takes the retained tokens from the mask's slot axis (a negative count in
    pruned layers); we use the retained tokens.

:func:`our_traffic`
    Our engine's dataflow: output tiles of ``m_tile x cols``, N processed in chunks of
    ``3 cols`` columns (96 at 32 columns, as published) that share one pass over the input;
    the input (unique vectors + similarity maps) is read from DRAM once per chunk, the
    weights once per m-tile, and the output leaves concentrated at the sparsity of the GEMM
    input it feeds (maps included). Attention scores go through DRAM between Q K^T and S V
    (no fused softmax), halved for causality. SRAM bytes per buffer: input (DRAM fill, array
    reads of every unique vector per output tile, scatter reads of the maps per slice),
    weights (fill, one read per output tile), scatter (partial sums written by the array and
    read per token, output rows read and written per slice, 4-byte accumulators), gather
    (tile buffer, layouter writes and 7 candidate reads per key, group-sum read-modify-write).
"""

from __future__ import annotations

from .cycles import ArrayShape
from .sparsity import InputSparsity
from .workload import Gemm, ModelShape

__all__ = ["PUBLISHED_ELEMENT_BYTES", "published_dram", "our_traffic", "element_bytes"]

PUBLISHED_ELEMENT_BYTES = 2
_PUBLISHED_M, _PUBLISHED_N = 1024, 96
_ACCUMULATOR_BYTES = 4
_SUM_BYTES = {"fp16": 8, "int8": 4}     # exact group sums: 53-bit (fp16), 19-bit (int8)


def _ceil(a, b):
    return -(-a // b)


def element_bytes(dtype: str) -> int:
    return 2 if dtype == "fp16" else 1


def _published_linear_dense(m: int, k: int, n: int) -> float:
    e = PUBLISHED_ELEMENT_BYTES
    return (m * k * _ceil(n, _PUBLISHED_N) + k * n * _ceil(m, _PUBLISHED_M) + m * n) * e


def published_dram(gemm: Gemm, model: ModelShape, sequence: int,
                   item: InputSparsity | None) -> float:
    """DRAM bytes of one GEMM in the published model (``item`` None: dense)."""
    e = PUBLISHED_ELEMENT_BYTES
    hd, heads = model.head_dim, model.heads
    if item is None:
        if gemm.kind == "linear":
            return _published_linear_dense(sequence, gemm.in_features, gemm.out_features)
        return (_published_linear_dense(sequence, hd, sequence)
                + _published_linear_dense(sequence, sequence, hd)) * heads * 0.5
    clusters = _ceil(item.unique_total, item.slots)
    tokens = item.live_tokens
    if gemm.kind == "linear":
        k, n = gemm.in_features, gemm.out_features
        return (clusters * k * _ceil(n, _PUBLISHED_N) + k * n * _ceil(tokens, _PUBLISHED_M)
                + clusters * n) * e
    qk = (clusters * hd * _ceil(tokens, _PUBLISHED_N) + hd * tokens * _ceil(tokens, _PUBLISHED_M)) * e
    sv = _published_linear_dense(tokens, tokens, hd) * heads
    return (qk + sv) * 0.5 + clusters * sequence * e


def _compressed_bytes(item: InputSparsity, vector_size: int, e: int, code_bytes: int) -> float:
    """Unique vectors plus one map code per token and slot."""
    return item.unique_total * vector_size * e + item.tokens * item.slots * code_bytes


def our_traffic(gemm: Gemm, model: ModelShape, item: InputSparsity,
                consumer: InputSparsity | None, shape: ArrayShape, *, focus: bool) -> dict:
    """DRAM and SRAM bytes of one GEMM in our dataflow (see the module docstring).

    Parameters
    ----------
    item : InputSparsity
        The GEMM's input (a dense input in dense mode).
    consumer : InputSparsity or None
        The input the output feeds (its compression sets the output bytes); None: dense.

    Returns
    -------
    dict
        ``dram`` bytes and ``sram_<buffer>`` bytes for input, weights, scatter, gather.
    """
    e = element_bytes(shape.dtype)
    v, cols = shape.rows, shape.cols
    code = _ceil(shape.m_tile.bit_length(), 8) if focus else 0
    chunk = 3 * cols
    tiles = item.tile_tokens.size
    tokens = item.tokens
    if gemm.kind == "linear":
        k, n = gemm.in_features, gemm.out_features
        streams = [(k, n, 1.0)]
        output_elements = tokens * n
        scores = 0.0
    else:
        hd, heads = model.head_dim, model.heads
        keys = tokens
        streams = [(hd, keys, 0.5 * heads), (keys, hd, 0.5 * heads)]   # Q K^T, S V
        output_elements = tokens * model.hidden
        scores = keys * keys * e * heads * 0.5          # written by Q K^T, read by S V below
    dram = sram_input = sram_weight = sram_scatter = sram_gather = 0.0
    for index, (k, n, repeat) in enumerate(streams):
        if gemm.kind == "attention":
            if index == 0:   # Q K^T: the query's head slots, keys as weights
                head_slots = _ceil(model.head_dim, v)
                fraction = head_slots / item.slots
                compressed = _compressed_bytes(item, v, e, code) * fraction if focus \
                    else tokens * k * e
                vectors = item.unique_total * fraction if focus else tokens * head_slots
            else:            # S V: dense rows of the probabilities
                compressed = tokens * k * e
                vectors = tokens * _ceil(k, v)
        else:
            compressed = _compressed_bytes(item, v, e, code) if focus else tokens * k * e
            vectors = item.unique_total if focus else tokens * item.slots
        n_slices, k_slices = _ceil(n, cols), _ceil(k, v)
        reads_input = compressed * _ceil(n, chunk)
        weights = k * n * e * tiles
        dram += repeat * (reads_input + weights)
        sram_input += repeat * (reads_input + vectors * v * e * n_slices
                                + (tokens * k_slices * code * n_slices))
        sram_weight += repeat * 2 * weights
        sram_scatter += repeat * _ACCUMULATOR_BYTES * cols * n_slices * (
            vectors + tokens * k_slices * 3)
    dram += 2 * scores
    if consumer is not None and focus:
        dram += _compressed_bytes(consumer, v, e, code)
    else:
        dram += output_elements * e
    if focus:
        keys = output_elements / cols       # gathered output vectors (one key each)
        sram_gather = keys * cols * e * (2 + 1 + 7) + keys * cols * _SUM_BYTES[shape.dtype] * 2
    return {"dram": dram, "sram_input": sram_input, "sram_weight": sram_weight,
            "sram_scatter": sram_scatter, "sram_gather": sram_gather}
