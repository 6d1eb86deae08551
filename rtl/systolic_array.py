"""Weight-stationary systolic array with double-buffered weights."""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import tile_vector
from .pipeline import delay
from .hierarchy import INLINE
from .parameters import check_int
from .processing_element import ProcessingElement
from .skid_buffer import SkidBuffer


class SystolicArray(wiring.Component):
    """``rows x cols`` weight-stationary array: one K-vector in, one partial-sum vector out.

    A *fold* is a run of activation vectors from a ``first`` beat to a ``last`` beat; it is
    multiplied by one weight tile: ``psums[j] = sum_k acts[k] * W[k][j]``, accumulated in
    row order ``k = 0 .. rows-1`` starting from the format's zero. Folds consume weight
    tiles in the order the tiles were loaded.

    Parameters
    ----------
    fmt : ArithmeticFormat
        Operand and accumulator format (``rtl.arith``).
    rows, cols : int
        Array size. ``rows`` is the K-slice (vector length), ``cols`` the N-slice.
    hierarchy : rtl.hierarchy.Hierarchy
        Builds the ``rows x cols`` processing elements (inline by default; the generator
        emits one shared PE module and instantiates it).

    Ports
    -----
    weights : In(stream.Signature(ArrayLayout(operand, cols)))
        Weight tiles, ``rows`` beats each, row 0 first. Two banks: the next tile loads while
        the current fold computes.
    acts : In(stream.Signature(tile_vector(operand, rows)))
        Activation K-vectors with ``first``/``last`` fold markers.
    psums : Out(stream.Signature(tile_vector(accumulator, cols)))
        One partial-sum vector per activation vector, in order, markers passed through.
    error : Out(1)
        Sticky protocol error: a ``first`` marker that does not follow ``last`` (or reset), or
        a missing one. Data still flows; folds are delimited by ``last`` alone.

    Timing
    ------
    Throughput 1 vector per cycle while a loaded tile is available and ``psums`` is ready.
    Latency from an accepted vector to its output beat: :attr:`latency` cycles.
    A weight tile may start loading :attr:`reload_gap` cycles after the last vector of the
    previous fold on the same bank was accepted, so reloads are hidden when a fold is at least
    ``reload_gap + rows`` vectors long (for the bank-alternating steady state, ``rows``
    beats of the next tile load during the current fold).
    """

    def __init__(self, fmt, *, rows, cols, hierarchy=INLINE):
        check_int("SystolicArray", "rows", rows)
        check_int("SystolicArray", "cols", cols)
        self.fmt = fmt
        self.rows = rows
        self.cols = cols
        self.pes = [[hierarchy.build(ProcessingElement, fmt) for _ in range(cols)]
                    for _ in range(rows)]
        super().__init__({
            "weights": In(stream.Signature(data.ArrayLayout(fmt.operand_shape, cols))),
            "acts": In(stream.Signature(tile_vector(fmt.operand_shape, rows))),
            "psums": Out(stream.Signature(tile_vector(fmt.accumulator_shape, cols))),
            "error": Out(1),
        })

    @property
    def latency(self):
        """Cycles from accepting an activation vector to its partial sums leaving ``psums``."""
        return self._pipeline_depth + 1

    @property
    def _pipeline_depth(self):
        # input register, rows * add_latency of skew + partial-sum chain, the multiplier,
        # and cols - 1 columns of horizontal travel (deskewed at the output).
        return self.rows * self.fmt.add_latency + self.fmt.mul_latency + self.cols

    @property
    def reload_gap(self):
        """Cycles after a fold's last vector before its bank may be overwritten."""
        return self.cols + (self.rows - 1) * (self.fmt.add_latency - 1)

    def elaborate(self, platform):
        m = Module()
        fmt, rows, cols = self.fmt, self.rows, self.cols

        # Every register of the datapath moves on `advance`; the skid buffer's registered
        # ready keeps the consumer's ready off this large enable net.
        m.submodules.out_buffer = out_buffer = SkidBuffer(self.psums.payload.shape())
        wiring.connect(m, wiring.flipped(self.psums), out_buffer.o)
        advance = Signal()
        m.d.comb += advance.eq(out_buffer.i.ready)

        # --- weight bank bookkeeping -------------------------------------------------------
        loaded = Signal(range(3))          # tiles fully loaded and not yet finished by a fold
        compute_bank = Signal()            # bank of the current (or next) fold
        load_row = Signal(range(rows))     # next row of the tile being loaded
        # per bank: cycles until the last vector that reads it has passed every PE
        drain = [Signal(range(self.reload_gap), name=f"drain{b}") for b in range(2)]
        load_bank = Signal()
        m.d.comb += load_bank.eq(compute_bank ^ (loaded == 1))

        may_start_load = (loaded < 2) & (Mux(load_bank, drain[1], drain[0]) == 0)
        m.d.comb += [
            self.weights.ready.eq(advance & ((load_row != 0) | may_start_load)),
            self.acts.ready.eq(advance & (loaded != 0)),
        ]
        weight_beat = self.weights.valid & self.weights.ready
        act_beat = self.acts.valid & self.acts.ready
        tile_loaded = weight_beat & (load_row == rows - 1)
        fold_done = act_beat & self.acts.payload.last

        with m.If(weight_beat):
            with m.If(load_row == rows - 1):
                m.d.sync += load_row.eq(0)
            with m.Else():
                m.d.sync += load_row.eq(load_row + 1)
        m.d.sync += loaded.eq(loaded + tile_loaded - fold_done)
        with m.If(fold_done):
            m.d.sync += compute_bank.eq(~compute_bank)
        for b in range(2):
            with m.If(fold_done & (compute_bank == b)):
                m.d.sync += drain[b].eq(self.reload_gap - 1)
            with m.Elif(advance & (drain[b] != 0)):
                m.d.sync += drain[b].eq(drain[b] - 1)

        # --- protocol check ---------------------------------------------------------------
        expect_first = Signal(init=1)
        with m.If(act_beat):
            m.d.sync += expect_first.eq(self.acts.payload.last)
            with m.If(self.acts.payload.first != expect_first):
                m.d.sync += self.error.eq(1)

        # --- input register and skew: row k enters k * add_latency cycles late --------------
        in_vector = Signal.like(self.acts.payload)
        in_bank = Signal()
        with m.If(advance):
            m.d.sync += [in_vector.eq(self.acts.payload), in_bank.eq(compute_bank)]
        row_acts = [delay(m, in_vector.data[k], k * fmt.add_latency, name=f"skew_act{k}",
                          en=advance) for k in range(rows)]
        row_banks = [delay(m, in_bank, k * fmt.add_latency, name=f"skew_bank{k}",
                           en=advance) for k in range(rows)]

        # --- the PE grid --------------------------------------------------------------------
        zero = Const(fmt.accumulator_zero, fmt.accumulator_shape)
        column_sums = [zero] * cols
        for k in range(rows):
            act, bank = row_acts[k], row_banks[k]
            row_write = weight_beat & (load_row == k)
            for j in range(cols):
                pe = m.submodules[f"pe_{k}_{j}"] = self.pes[k][j]
                m.d.comb += [
                    pe.en.eq(advance),
                    pe.act_in.eq(act),
                    pe.act_bank_in.eq(bank),
                    pe.psum_in.eq(column_sums[j]),
                    pe.w_data.eq(self.weights.payload[j]),
                    pe.w_bank.eq(load_bank),
                    pe.w_we.eq(row_write),
                ]
                act, bank = pe.act_out, pe.act_bank_out
                column_sums[j] = pe.psum_out

        # --- deskew and the valid/marker pipeline -------------------------------------------
        result = Signal(self.psums.payload.shape())
        for j in range(cols):
            m.d.comb += result.data[j].eq(
                delay(m, column_sums[j], cols - 1 - j, name=f"deskew{j}", en=advance))
        markers = data.StructLayout({"valid": 1, "first": 1, "last": 1})
        entering = Signal(markers)
        m.d.comb += [
            entering.valid.eq(act_beat),
            entering.first.eq(self.acts.payload.first),
            entering.last.eq(self.acts.payload.last),
        ]
        leaving = markers(delay(m, entering.as_value(), self._pipeline_depth, name="marker",
                                en=advance))
        m.d.comb += [
            result.first.eq(leaving.first),
            result.last.eq(leaving.last),
            out_buffer.i.valid.eq(leaving.valid),
            out_buffer.i.payload.eq(result),
        ]
        return m
