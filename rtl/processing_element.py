"""One processing element of the weight-stationary systolic array."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class ProcessingElement(wiring.Component):
    """Multiply-accumulate cell with two weight banks.

    Parameters
    ----------
    fmt : ArithmeticFormat
        Operand/accumulator format; sets port widths and the pipeline latencies.

    Ports
    -----
    en : In(1)
        Global advance: every register moves only while it is high.
    act_in, act_bank_in : In(operand), In(1)
        Activation arriving from the left and the weight bank its fold uses.
    act_out, act_bank_out : Out(operand), Out(1)
        The same, registered, for the right neighbour (1 tick).
    psum_in : In(accumulator)
        Partial sum from the PE above; must arrive ``fmt.mul_latency`` ticks after ``act_in``.
    psum_out : Out(accumulator)
        ``psum_in + act_in * weight[act_bank_in]``, ``mul_latency + add_latency`` ticks after
        ``act_in``.
    w_data, w_bank, w_we : In(operand), In(1), In(1)
        Weight write port: on a tick with ``en & w_we``, ``w_data`` replaces bank ``w_bank``.
    """

    def __init__(self, fmt):
        self._fmt = fmt
        super().__init__({
            "en": In(1),
            "act_in": In(fmt.operand_shape),
            "act_bank_in": In(1),
            "act_out": Out(fmt.operand_shape),
            "act_bank_out": Out(1),
            "psum_in": In(fmt.accumulator_shape),
            "psum_out": Out(fmt.accumulator_shape),
            "w_data": In(fmt.operand_shape),
            "w_bank": In(1),
            "w_we": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        fmt = self._fmt
        banks = [Signal(fmt.operand_shape, name=f"weight{b}") for b in range(2)]
        with m.If(self.en & self.w_we):
            with m.If(self.w_bank):
                m.d.sync += banks[1].eq(self.w_data)
            with m.Else():
                m.d.sync += banks[0].eq(self.w_data)
        with m.If(self.en):
            m.d.sync += [
                self.act_out.eq(self.act_in),
                self.act_bank_out.eq(self.act_bank_in),
            ]
        weight = Mux(self.act_bank_in, banks[1], banks[0])
        product = fmt.multiply(m, self.act_in, weight, self.en)
        m.d.comb += self.psum_out.eq(fmt.add(m, self.psum_in, product, self.en))
        return m
