"""Bit-exact models of the semantic-concentrator (SEC) hardware blocks.

Each function mirrors one RTL block of ``rtl/`` on the raw values the hardware sees, including
its documented behaviour on bad input (error bits and the defined output), so a testbench can
compare every beat. The tensor-level intent is ``golden.algorithm`` (``token_importance``,
``select_tokens``, ``encode_offsets``); ``tests/test_golden_sec.py`` checks that these models
agree with it on all valid input.

Blocks and models
-----------------
``ImportanceAnalyzer``  :func:`analyze_layer` (+ :func:`probability_beats` to make stimuli)
``TopKSorter``          :func:`topk_select`
``OffsetEncoder``       :func:`encode_stream`
``OffsetDecoder``       :func:`decode_stream`
``SemanticConcentrator`` :func:`semantic_concentrator`
Cycle counts            :func:`sorter_cycles`, :func:`analyzer_cycles`

The importance key depends on the number format: the analyzer models take the format object
(``golden.arith``), whose ``sanitize_importance`` turns raw values into keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Error bit names, in the bit order of the RTL ``error`` ports.
ANALYZER_ERRORS = ("bad_value", "bad_tokens", "bad_group")
SORTER_ERRORS = ("bad_k", "bad_pass")
ENCODER_ERRORS = ("not_ascending",)
DECODER_ERRORS = ("trailing_escape", "overflow")


# --------------------------------------------------------------------------------------
# ImportanceAnalyzer
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbsBeat:
    """One analyzer input beat: ``sort_width`` raw values of column group ``group``."""

    data: tuple
    group: int
    tokens: int
    last: bool


def probability_beats(raw, sort_width, *, rng=None, tokens=None, pad=0):
    """Beats that stream a ``(rows, M)`` matrix of raw values into the analyzer.

    Parameters
    ----------
    raw : array_like, shape (rows, M)
        Raw importance values (``arith.importance_codes``), one row per text token x head.
    sort_width : int
        Lanes per beat.
    rng : numpy.random.Generator, optional
        If given, the (row, group) beats are sent in a random order (the analyzer accepts any
        order) and padding lanes past M get random garbage (which must be ignored).
    tokens : int, optional
        Value of the ``tokens`` field (default M).
    pad : int
        Padding value when ``rng`` is None.

    Returns
    -------
    list of ProbsBeat
    """
    raw = np.asarray(raw, dtype=np.int64)
    rows, count = raw.shape
    groups = -(-count // sort_width)
    padded = np.full((rows, groups * sort_width), pad, dtype=np.int64)
    if rng is not None:
        padded[:] = rng.integers(0, 1 << 16, size=padded.shape)
    padded[:, :count] = raw
    order = [(r, g) for r in range(rows) for g in range(groups)]
    if rng is not None:
        order = [order[i] for i in rng.permutation(len(order))]
    tokens = count if tokens is None else tokens
    return [ProbsBeat(tuple(int(v) for v in padded[r, g * sort_width:(g + 1) * sort_width]),
                      g, tokens, i == len(order) - 1)
            for i, (r, g) in enumerate(order)]


@dataclass
class AnalyzerResult:
    """Importance buffer contents after a layer and the error bits it raised."""

    importance: np.ndarray
    tokens: int
    errors: dict = field(default_factory=dict)


def analyze_layer(arith, beats, *, sort_width, max_tokens) -> AnalyzerResult:
    """Model of ``ImportanceAnalyzer`` for one layer (beats up to and including ``last``).

    ``arith`` is the number format (``golden.arith``) whose importance key the analyzer
    keeps.

    * M is the ``tokens`` field of the layer's first beat, clamped to ``[1, max_tokens]``
      (``bad_tokens`` if it had to be clamped, or if a later beat carries a different count).
    * A beat whose group starts at or past M is ignored (``bad_group``).
    * Lanes at or past M are ignored. Other lanes are sanitized
      (``arith.sanitize_importance``; ``bad_value``) and max-ed in.
    * The buffer starts the layer at all zeros.
    """
    errors = dict.fromkeys(ANALYZER_ERRORS, False)
    buffer = np.zeros(max_tokens, dtype=np.int64)
    count = None
    for beat in beats:
        clamped = min(max(int(beat.tokens), 1), max_tokens)
        if count is None:
            count = clamped
            errors["bad_tokens"] |= clamped != beat.tokens
        elif clamped != count:
            errors["bad_tokens"] = True
        start = beat.group * sort_width
        if start >= count:
            errors["bad_group"] = True
        else:
            lanes = min(sort_width, count - start)
            keys, invalid = arith.sanitize_importance(beat.data[:lanes])
            errors["bad_value"] |= bool(invalid.any())
            window = buffer[start:start + lanes]
            np.maximum(window, keys, out=window)
        if beat.last:
            break
    if count is None:
        raise ValueError("a layer needs at least one beat")
    return AnalyzerResult(buffer[:count].copy(), count, errors)


def analyzer_cycles(vectors):
    """Cycles the analyzer needs to accept ``vectors`` beats: one per cycle, no bubbles."""
    return vectors


def clear_cycles(tokens, sort_width):
    """Cycles of the buffer clear after a layer's release: one per word in use."""
    return -(-tokens // sort_width)


# --------------------------------------------------------------------------------------
# TopKSorter
# --------------------------------------------------------------------------------------


@dataclass
class SortResult:
    """Outcome of one top-k selection by the sorter."""

    selected: np.ndarray       # ascending indices
    k: int                     # k actually used, clamped to [1, M]
    passes: int                # importance passes the sorter requested
    thresholds: list           # (value, index) of the last token taken by every pass
    errors: dict = field(default_factory=dict)


def _better(a, b):
    """True if token ``a = (value, index)`` precedes ``b`` in the total order of spec 2.2."""
    return a[0] > b[0] or (a[0] == b[0] and a[1] < b[1])


def topk_select(importance, k, sort_width) -> SortResult:
    """Model of ``TopKSorter``: the multi-pass selection exactly as the hardware runs it.

    Pass ``p`` keeps, in a ``sort_width``-long insertion chain, the best tokens strictly after
    the previous pass's threshold in the total order; its threshold is the chain's last entry
    (the ``r``-th for the final pass, ``r = k - (passes - 1) * sort_width``). ``k`` is clamped
    to ``[1, M]`` (``bad_k`` when it had to be). The selection is every token at or before the
    final threshold, emitted in ascending index order.
    """
    values = [int(v) for v in np.asarray(importance).ravel()]
    count = len(values)
    if count == 0:
        raise ValueError("importance must hold at least one token")
    k_used = min(max(int(k), 1), count)
    errors = dict.fromkeys(SORTER_ERRORS, False)
    errors["bad_k"] = k_used != k
    thresholds = []
    threshold = None
    taken = 0
    while True:
        chain = []
        for index, value in enumerate(values):
            token = (value, index)
            if threshold is not None and not _better(threshold, token):
                continue
            position = len(chain)
            while position and not (chain[position - 1][0] >= value):
                position -= 1
            chain.insert(position, token)
            del chain[sort_width:]
        remaining = k_used - taken
        final = remaining <= sort_width
        threshold = chain[(remaining if final else sort_width) - 1]
        thresholds.append(threshold)
        if final:
            break
        taken += sort_width
    selected = np.array([i for i, v in enumerate(values) if not _better(threshold, (v, i))],
                        dtype=np.int64)
    return SortResult(selected, k_used, len(thresholds), thresholds, errors)


def sorter_cycles(count, k, sort_width, selected):
    """Cycles of ``TopKSorter`` from its first importance beat to its last index beat.

    For an importance source at one token per cycle (the analyzer's rate) and a consumer that
    is always ready::

        P*M + r + k + E + 3

    ``P*M``  the ``P = ceil(k/a)`` passes of M tokens, back to back (the published cost);
    ``r``    per-bit mask writes of the final pass's ``r = k - (P-1)*a`` chain entries;
    ``k + E`` the mask walk: one cycle per selected token plus one per mask word without a
             selected token, not counting the last word (``E`` such words);
    ``3``    the first mask read, the closing beat, and the output register.

    Parameters
    ----------
    count : int
        M.
    k : int
        The clamped k.
    sort_width : int
        a.
    selected : array_like
        The selected indices (which mask words are empty).
    """
    passes = -(-k // sort_width)
    remaining = k - (passes - 1) * sort_width
    words = -(-count // sort_width)
    occupancy = np.bincount(np.asarray(selected, dtype=np.int64) // sort_width,
                            minlength=words)
    empty = int(np.sum(occupancy[:words - 1] == 0))
    return passes * count + remaining + k + empty + 3


def published_sorter_cycles(count, k, sort_width):
    """The published sorter cost: ``ceil(k / a) * M``."""
    return -(-k // sort_width) * count


# --------------------------------------------------------------------------------------
# OffsetEncoder / OffsetDecoder
# --------------------------------------------------------------------------------------


def encode_stream(layers, bits):
    """Model of ``OffsetEncoder`` over several layers (each a sequence of indices).

    Every layer's index ``i`` is coded relative to the previous index of the same layer
    (``-1`` before the first). An index that does not exceed the previous one raises
    ``not_ascending`` and is coded as previous + 1 (code 1). Codes are those of
    ``golden.algorithm.encode_offsets``: ``(d - 1) // E`` escapes (0) then ``d - E * escapes``.

    Returns
    -------
    (list of (code, last), dict of error bits)
    """
    step = (1 << bits) - 1
    beats = []
    errors = dict.fromkeys(ENCODER_ERRORS, False)
    for layer in layers:
        layer = [int(i) for i in layer]
        if not layer:
            raise ValueError("every layer needs at least one index")
        previous = -1
        for n, index in enumerate(layer):
            if index <= previous:
                errors["not_ascending"] = True
                index = previous + 1
            offset = index - previous
            escapes = (offset - 1) // step
            beats.extend((0, False) for _ in range(escapes))
            beats.append((offset - escapes * step, n == len(layer) - 1))
            previous = index
    return beats, errors


def decode_stream(beats, bits, max_tokens):
    """Model of ``OffsetDecoder``: ``(code, last)`` beats to ``(index, last)`` beats.

    Code 0 adds ``E = 2**bits - 1`` to the pending gap; code ``c >= 1`` emits the token at
    ``previous + pending + c``. A ``last`` escape (a stream ending in an escape) raises
    ``trailing_escape`` and is decoded as code ``E``. An index at or past ``max_tokens`` raises
    ``overflow`` and is emitted as ``max_tokens - 1``; the position it leaves is ``max_tokens``.

    Returns
    -------
    (list of (index, last), dict of error bits)
    """
    step = (1 << bits) - 1
    out = []
    errors = dict.fromkeys(DECODER_ERRORS, False)
    position = 0   # smallest index the next token may have
    for code, last in beats:
        code = int(code)
        if code == 0 and not last:
            position = min(position + step, max_tokens)
            continue
        if code == 0:
            errors["trailing_escape"] = True
            code = step
        index = position + code - 1
        if index >= max_tokens:
            errors["overflow"] = True
            index = max_tokens - 1
        out.append((index, bool(last)))
        position = 0 if last else index + 1
    return out, errors


# --------------------------------------------------------------------------------------
# SemanticConcentrator
# --------------------------------------------------------------------------------------


@dataclass
class SecResult:
    """One layer through ``SemanticConcentrator``."""

    importance: np.ndarray
    selected: np.ndarray
    codes: list
    errors: dict
    sort: SortResult


def semantic_concentrator(arith, beats, k, *, sort_width, max_tokens, offset_bits):
    """Model of ``SemanticConcentrator`` for one layer: analyzer, sorter, encoder."""
    layer = analyze_layer(arith, beats, sort_width=sort_width, max_tokens=max_tokens)
    sort = topk_select(layer.importance, k, sort_width)
    codes, enc_errors = encode_stream([sort.selected], offset_bits)
    errors = {**layer.errors, **sort.errors, **enc_errors}
    return SecResult(layer.importance, sort.selected, codes, errors, sort)
