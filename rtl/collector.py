"""SIC collector: compact indices, exact group sums, the similarity map and the drain."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith.rounded_mean import RoundedMean
from .layouts import tile_vector
from .similarity_matcher import decision_layout
from .skid_buffer import SkidBuffer


def map_layout(m_tile):
    """A similarity-map beat: the token's compact group index or the ZERO code."""
    return data.StructLayout({"code": m_tile.bit_length(), "first": 1, "last": 1})


def table_entry(numbers, *, vector_size, m_tile):
    """One group of the table: exact sums, special-value codes (if any), member count."""
    fields = {"sums": data.ArrayLayout(numbers.sum_shape, vector_size),
              "count": range(m_tile + 1)}
    if numbers.special_bits:
        fields["specials"] = data.ArrayLayout(numbers.special_bits, vector_size)
    return data.StructLayout(fields)


def collector_storage(numbers, *, vector_size, slot_bits, m_tile, key_depth):
    """Bits of each memory of a collector."""
    map_bits = m_tile.bit_length()
    return {
        "group sums and counts": m_tile * table_entry(numbers, vector_size=vector_size,
                                                     m_tile=m_tile).size,
        "map": m_tile * map_bits,
        "group index per layouter slot": (1 << slot_bits) * map_bits,
        "key FIFO": key_depth * vector_size * numbers.fmt.operand_width,
    }


def zero_code(m_tile):
    """The reserved map code of an all-zero vector (all ones; never a compact index)."""
    return (1 << m_tile.bit_length()) - 1


class Collector(wiring.Component):
    """Turns the matcher's verdicts into the compact table and the similarity map of a tile.

    Per key, in order: an all-zero key gets the ZERO code; a similar key gets the compact
    index of its chosen candidate's group (looked up by layouter slot); any other key opens a
    new group with the next compact index (order of first appearance). The map entry is
    written at the key's row, and the key's vector is added, exactly (``SicNumbers.fixed``
    units), to its group's sum, whose member count is incremented. Read-modify-write hazards
    between consecutive keys are resolved by transparent memory read ports, so one key per
    cycle is sustained.

    After the tile's last key, the collector drains the tile: the representatives
    (``RoundedMean`` of each group's sum and count) on ``unique``, and every token's code on
    ``map``, both in order with ``first``/``last`` markers, concurrently and each under its
    own back-pressure. ``tile_done`` pulses when both are out; the next tile may then start.

    Parameters
    ----------
    numbers : SicNumbers
        Format hooks.
    vector_size : int
        V.
    slot_bits : int
        Width of a layouter slot (the group-index memory has ``2**slot_bits`` entries).
    m_tile : int
        Largest tile: table and map depth.
    key_depth : int
        Capacity of the key-vector FIFO: at least the keys between the layouter's output and
        the verdict.

    Ports
    -----
    keys : In(stream.Signature(ArrayLayout(operand, V), always_ready=True))
        Every key's vector, in order, before its verdict.
    decisions : In(stream.Signature(decision_layout(...), always_ready=True))
        The matcher's verdicts, in key order, at most one per cycle.
    unique : Out(stream.Signature(tile_vector(operand, V)))
        The representatives of a tile; nothing for a tile of all-zero vectors.
    map : Out(stream.Signature(map_layout(m_tile)))
        One code per token of the tile.
    tile_done : Out(1)
        One-cycle pulse: the tile's last beats entered the output buffers.
    draining : Out(1)
        The collector is draining a tile (it accepts no verdicts then).

    Timing
    ------
    Verdict to table update: 3 cycles. Drain: ``max(tokens, groups + mean latency)`` cycles
    plus 2 without back-pressure.
    """

    def __init__(self, numbers, *, vector_size, slot_bits, m_tile, key_depth):
        self.numbers = numbers
        self.vector_size = vector_size
        self.slot_bits = slot_bits
        self.m_tile = m_tile
        self.key_depth = key_depth
        operand = numbers.fmt.operand_shape
        self.entry = table_entry(numbers, vector_size=vector_size, m_tile=m_tile)
        super().__init__({
            "keys": In(stream.Signature(data.ArrayLayout(operand, vector_size),
                                        always_ready=True)),
            "decisions": In(stream.Signature(decision_layout(slot_bits=slot_bits,
                                                             m_tile=m_tile),
                                             always_ready=True)),
            "unique": Out(stream.Signature(tile_vector(operand, vector_size))),
            "map": Out(stream.Signature(map_layout(m_tile))),
            "tile_done": Out(1),
            "draining": Out(1),
        })

    @property
    def storage_bits(self):
        return collector_storage(self.numbers, vector_size=self.vector_size,
                                 slot_bits=self.slot_bits, m_tile=self.m_tile,
                                 key_depth=self.key_depth)

    def elaborate(self, platform):
        m = Module()
        numbers, size, m_tile = self.numbers, self.vector_size, self.m_tile
        zero = zero_code(m_tile)
        code_bits = m_tile.bit_length()

        m.submodules.key_fifo = key_fifo = fifo.SyncFIFOBuffered(
            width=size * numbers.fmt.operand_width, depth=self.key_depth)
        m.d.comb += [key_fifo.w_data.eq(self.keys.payload.as_value()),
                     key_fifo.w_en.eq(self.keys.valid)]

        m.submodules.table = table = memory.Memory(shape=self.entry, depth=m_tile, init=[])
        m.submodules.codes = codes = memory.Memory(shape=code_bits, depth=m_tile, init=[])
        m.submodules.groups = groups = memory.Memory(
            shape=code_bits, depth=1 << self.slot_bits, init=[])
        table_write = table.write_port()
        table_read = table.read_port(transparent_for=(table_write,))
        code_write = codes.write_port()
        code_read = codes.read_port()
        group_write = groups.write_port()
        group_read = groups.read_port(transparent_for=(group_write,))

        groups_open = Signal(range(m_tile + 1))   # compact indices handed out in this tile
        draining = Signal()
        m.d.comb += self.draining.eq(draining)

        # --- Z0: look up the chosen candidate's group ------------------------------------
        verdict = self.decisions.payload
        m.d.comb += group_read.addr.eq(verdict.best_slot)
        z1_valid = Signal()
        z1 = Signal.like(verdict)
        m.d.sync += z1_valid.eq(self.decisions.valid)
        with m.If(self.decisions.valid):
            m.d.sync += z1.eq(verdict)

        # --- Z1: assign the code, write map and group index, read the group's sum ----------
        code = Signal(code_bits)
        opens = z1_valid & ~z1.tag.zero & ~z1.similar
        with m.If(z1.tag.zero):
            m.d.comb += code.eq(zero)
        with m.Elif(z1.similar):
            m.d.comb += code.eq(group_read.data)
        with m.Else():
            m.d.comb += code.eq(groups_open)
        with m.If(opens):
            m.d.sync += groups_open.eq(groups_open + 1)
        m.d.comb += [
            group_write.addr.eq(z1.tag.slot),
            group_write.data.eq(code),
            group_write.en.eq(z1_valid),
            code_write.addr.eq(z1.tag.index),
            code_write.data.eq(code),
            code_write.en.eq(z1_valid),
        ]
        z2_valid, z2_code, z2_opens = Signal(), Signal(code_bits), Signal()
        z2_zero, z2_last, z2_index = Signal(), Signal(), Signal(range(m_tile))
        m.d.sync += [
            z2_valid.eq(z1_valid),
            z2_code.eq(code),
            z2_opens.eq(opens),
            z2_zero.eq(z1.tag.zero),
            z2_last.eq(z1_valid & z1.tag.tile_last),
            z2_index.eq(z1.tag.index),
        ]

        # --- Z2: add the key into its group ------------------------------------------------
        key = data.ArrayLayout(numbers.fmt.operand_shape, size)(key_fifo.r_data)
        m.d.comb += key_fifo.r_en.eq(z2_valid)
        current = self.entry(table_read.data)
        updated = Signal(self.entry)
        for lane in range(size):
            value = numbers.fixed(m, key[lane])
            m.d.comb += updated.sums[lane].eq(Mux(z2_opens, value,
                                                  current.sums[lane].as_signed() + value))
            if numbers.special_bits:
                special = numbers.special_code(key[lane])
                m.d.comb += updated.specials[lane].eq(
                    Mux(z2_opens, special, current.specials[lane] | special))
        m.d.comb += updated.count.eq(Mux(z2_opens, 1, current.count + 1))
        m.d.comb += [
            table_write.addr.eq(z2_code),
            table_write.data.eq(updated),
            table_write.en.eq(z2_valid & ~z2_zero),
        ]

        # --- the drain -------------------------------------------------------------------
        tokens = Signal(range(m_tile + 1))
        unique_total = Signal(range(m_tile + 1))
        map_position = Signal(range(m_tile + 1))
        unique_position = Signal(range(m_tile + 1))
        with m.If(z2_last):
            m.d.sync += [
                draining.eq(1),
                tokens.eq(z2_index + 1),
                unique_total.eq(groups_open),
                map_position.eq(0),
                unique_position.eq(0),
            ]

        # map: read the codes in token order
        m.submodules.map_buffer = map_buffer = SkidBuffer(self.map.payload.shape())
        wiring.connect(m, wiring.flipped(self.map), map_buffer.o)
        map_advance = map_buffer.i.ready
        map_issue = draining & (map_position != tokens)
        map_valid, map_first, map_last = Signal(), Signal(), Signal()
        m.d.comb += [code_read.addr.eq(map_position), code_read.en.eq(map_advance)]
        with m.If(map_advance):
            m.d.sync += [
                map_valid.eq(map_issue),
                map_first.eq(map_position == 0),
                map_last.eq(map_position == tokens - 1),
            ]
            with m.If(map_issue):
                m.d.sync += map_position.eq(map_position + 1)
        m.d.comb += [
            map_buffer.i.valid.eq(map_valid),
            map_buffer.i.payload.code.eq(code_read.data),
            map_buffer.i.payload.first.eq(map_first),
            map_buffer.i.payload.last.eq(map_last),
        ]

        # representatives: read each group's sum and count, divide, round
        m.submodules.unique_buffer = unique_buffer = SkidBuffer(self.unique.payload.shape())
        wiring.connect(m, wiring.flipped(self.unique), unique_buffer.o)
        unique_advance = unique_buffer.i.ready
        unique_issue = draining & (unique_position != unique_total)
        with m.If(draining):
            m.d.comb += [table_read.addr.eq(unique_position),
                         table_read.en.eq(unique_advance)]
        with m.Else():
            m.d.comb += [table_read.addr.eq(code), table_read.en.eq(1)]
        with m.If(unique_advance & unique_issue):
            m.d.sync += unique_position.eq(unique_position + 1)
        m.submodules.mean = mean = RoundedMean(numbers, lanes=size, m_tile=m_tile)
        m.d.comb += [
            mean.en.eq(unique_advance),
            mean.sums.eq(current.sums),
            mean.count.eq(current.count),
        ]
        if numbers.special_bits:
            m.d.comb += mean.specials.eq(current.specials)
        markers = data.StructLayout({"valid": 1, "first": 1, "last": 1})
        issued = Signal(markers)
        m.d.comb += [
            issued.valid.eq(unique_issue),
            issued.first.eq(unique_position == 0),
            issued.last.eq(unique_position == unique_total - 1),
        ]
        stages = [issued]
        for stage in range(1 + mean.latency):
            register = Signal(markers, name=f"unique_marker{stage}")
            with m.If(unique_advance):
                m.d.sync += register.eq(stages[-1])
            stages.append(register)
        m.d.comb += [
            unique_buffer.i.valid.eq(stages[-1].valid),
            unique_buffer.i.payload.data.eq(mean.mean),
            unique_buffer.i.payload.first.eq(stages[-1].first),
            unique_buffer.i.payload.last.eq(stages[-1].last),
        ]

        in_flight = map_valid | map_issue | unique_issue
        for stage in stages[1:]:
            in_flight = in_flight | stage.valid
        done = draining & ~z2_last & ~in_flight
        m.d.comb += self.tile_done.eq(done)
        with m.If(done):
            m.d.sync += [draining.eq(0), groups_open.eq(0)]
        return m
