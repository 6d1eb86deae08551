"""SIC collector: compact indices, exact group sums, the similarity map and the drain."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith.rounded_mean import RoundedMean
from .hierarchy import INLINE
from .queue import StreamQueue
from .layouts import decision_layout, map_layout, tile_vector
from .parameters import check_choice, divisors
from .skid_buffer import SkidBuffer


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
        "map FIFO": m_tile * map_layout(m_tile).size,
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
    new group with the next compact index (order of first appearance). The key's code goes
    to ``map`` at once (through a FIFO of ``m_tile`` codes), and its vector is added, exactly
    (``SicNumbers.fixed`` units), to its group's sum, whose member count is incremented.
    Read-modify-write hazards between consecutive keys are resolved by a transparent read
    port, so one key per cycle is sustained.

    After a tile's last key the collector drains the tile's representatives
    (``RoundedMean`` of each group's sum and count) on ``unique`` through a second,
    non-transparent read port of the table, one group per cycle under back-pressure, while
    the next tile's keys already update the table behind the drain's read pointer:
    ``drain_read`` tells the gather how many groups have been read, and a key with tile row
    ``j`` (which can open at most group ``j``) may enter only once ``j < drain_read``.

    Parameters
    ----------
    numbers : SicNumbers
        Format hooks.
    vector_size : int
        V.
    slot_bits : int
        Width of a layouter slot (the group-index memory has ``2**slot_bits`` entries).
    m_tile : int
        Largest tile: table depth, map FIFO depth and compact-index range.
    key_depth : int
        Capacity of the key-vector FIFO: at least the keys between the layouter's output and
        the verdict.
    lanes : int, optional
        Means computed per cycle (default V, a divisor of V): a representative takes
        ``V / lanes`` cycles of the drain.
    hierarchy : rtl.hierarchy.Hierarchy
        Builds the mean unit (inline by default).

    Ports
    -----
    keys : In(stream.Signature(ArrayLayout(operand, V), always_ready=True))
        Every key's vector, in order, before its verdict.
    decisions : In(stream.Signature(decision_layout(...), always_ready=True))
        The matcher's verdicts, in key order, at most one per cycle. The sender guarantees
        room in the map FIFO (at most ``m_tile`` codes outstanding) and the drain rule above.
    unique : Out(stream.Signature(tile_vector(operand, V)))
        The representatives of a tile, ``first``/``last`` marked; nothing for a tile of
        all-zero vectors.
    map : Out(stream.Signature(map_layout(m_tile)))
        One code per token of the tile, ``first``/``last`` marked.
    drain_read : Out(range(m_tile + 1))
        Groups of the draining tile read so far (0 while no drain is running).
    drain_done : Out(1)
        One-cycle pulse: the draining tile's last group has been read from the table (the
        table is free for the next tile).

    Timing
    ------
    Verdict to map FIFO: 2 cycles; verdict to table update: 3 cycles. The drain starts the
    cycle after the last key's update and reads one group per ``V / lanes`` cycles; a
    representative enters ``unique``'s output buffer ``1 + RoundedMean`` latency cycles
    after the read of its last part.
    """

    def __init__(self, numbers, *, vector_size, slot_bits, m_tile, key_depth, lanes=None,
                 hierarchy=INLINE):
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
            "drain_read": Out(range(m_tile + 1)),
            "drain_done": Out(1),
        })
        self.lanes = check_choice("Collector", "lanes",
                                  vector_size if lanes is None else lanes,
                                  divisors(vector_size), f"for vector_size {vector_size}")
        self.parts = vector_size // self.lanes
        self.mean = hierarchy.build(RoundedMean, numbers, lanes=self.lanes, m_tile=m_tile)

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

        # Keys wait here for their verdict (the gather admits no more than key_depth).
        m.submodules.key_fifo = key_fifo = StreamQueue(self.keys.payload.shape(),
                                                        depth=self.key_depth)
        m.d.comb += [key_fifo.i.payload.eq(self.keys.payload),
                     key_fifo.i.valid.eq(self.keys.valid)]

        m.submodules.table = table = memory.Memory(shape=self.entry, depth=m_tile, init=[])
        m.submodules.groups = groups = memory.Memory(
            shape=code_bits, depth=1 << self.slot_bits, init=[])
        table_write = table.write_port()
        update_read = table.read_port(transparent_for=(table_write,))
        drain_port = table.read_port()
        group_write = groups.write_port()
        group_read = groups.read_port(transparent_for=(group_write,))

        groups_open = Signal(range(m_tile + 1))   # compact indices handed out in this tile

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
        with m.If(z1_valid & z1.tag.tile_last):
            m.d.sync += groups_open.eq(0)
        with m.Elif(opens):
            m.d.sync += groups_open.eq(groups_open + 1)
        m.d.comb += [
            group_write.addr.eq(z1.tag.slot),
            group_write.data.eq(code),
            group_write.en.eq(z1_valid),
            update_read.addr.eq(code),
        ]
        # Map codes wait here for the consumer (the gather admits no more than m_tile).
        m.submodules.map_fifo = map_fifo = StreamQueue(self.map.payload.shape(), depth=m_tile)
        wiring.connect(m, map_fifo.o, wiring.flipped(self.map))
        m.d.comb += [
            map_fifo.i.payload.code.eq(code),
            map_fifo.i.payload.first.eq(z1.tag.index == 0),
            map_fifo.i.payload.last.eq(z1.tag.tile_last),
            map_fifo.i.valid.eq(z1_valid),
        ]
        z2_valid, z2_code, z2_opens = Signal(), Signal(code_bits), Signal()
        z2_zero, z2_last = Signal(), Signal()
        z2_groups = Signal(range(m_tile + 1))          # groups of the tile, at its last key
        m.d.sync += [
            z2_valid.eq(z1_valid),
            z2_code.eq(code),
            z2_opens.eq(opens),
            z2_zero.eq(z1.tag.zero),
            z2_last.eq(z1_valid & z1.tag.tile_last),
            z2_groups.eq(groups_open + opens),
        ]

        # --- Z2: add the key into its group ------------------------------------------------
        key = key_fifo.o.payload
        m.d.comb += key_fifo.o.ready.eq(z2_valid)
        current = self.entry(update_read.data)
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

        # --- the drain of the representatives ----------------------------------------------
        # Each group is read `parts` cycles in a row; the mean unit turns `lanes` of its sums
        # into operands per cycle, and the representative leaves once its last part is done.
        lanes, parts = self.lanes, self.parts
        issuing = Signal()
        unique_total = Signal(range(m_tile + 1))
        unique_position = Signal(range(m_tile + 1))
        part = Signal(range(max(parts, 2)))     # (one bit, always 0, when not folded)
        m.submodules.unique_buffer = unique_buffer = SkidBuffer(self.unique.payload.shape())
        wiring.connect(m, wiring.flipped(self.unique), unique_buffer.o)
        advance = unique_buffer.i.ready
        issue = issuing & advance
        last_part = part == parts - 1
        final = unique_position == unique_total - 1
        m.d.comb += [
            drain_port.addr.eq(unique_position),
            drain_port.en.eq(advance),
            self.drain_read.eq(Mux(issuing, unique_position, 0)),
        ]
        with m.If(z2_last):
            # The previous drain is over: the gather admits a tile's last key only then.
            m.d.sync += [issuing.eq(z2_groups != 0), unique_total.eq(z2_groups),
                         unique_position.eq(0), part.eq(0)]
            m.d.comb += self.drain_done.eq(z2_groups == 0)
        with m.Elif(issue):
            m.d.sync += part.eq(Mux(last_part, 0, part + 1))
            with m.If(last_part):
                m.d.sync += unique_position.eq(unique_position + 1)
                with m.If(final):
                    m.d.sync += issuing.eq(0)
                    m.d.comb += self.drain_done.eq(1)

        m.submodules.mean = mean = self.mean
        drained = self.entry(drain_port.data)
        read_part = Signal.like(part)            # the part whose word the port presents
        with m.If(advance):
            m.d.sync += read_part.eq(part)

        def lanes_of(array, element_bits):
            if parts == 1:
                return array.as_value()
            return array.as_value().word_select(read_part, lanes * element_bits)

        m.d.comb += [
            mean.en.eq(advance),
            mean.sums.eq(lanes_of(drained.sums, numbers.sum_shape.width)),
            mean.count.eq(drained.count),
        ]
        if numbers.special_bits:
            m.d.comb += mean.specials.eq(lanes_of(drained.specials, numbers.special_bits))
        markers = data.StructLayout({"valid": 1, "first": 1, "last": 1, "complete": 1})
        issued = Signal(markers)
        m.d.comb += [
            issued.valid.eq(issuing),
            issued.first.eq(unique_position == 0),
            issued.last.eq(final),
            issued.complete.eq(last_part),
        ]
        stages = [issued]
        for stage in range(1 + mean.latency):
            register = Signal(markers, name=f"unique_marker{stage}")
            with m.If(advance):
                m.d.sync += register.eq(stages[-1])
            stages.append(register)
        leaving = stages[-1]
        # Earlier parts of the representative wait in a register; the last one joins them.
        operand_bits = numbers.fmt.operand_width
        if parts > 1:
            waiting = Signal((parts - 1) * lanes * operand_bits)
            with m.If(advance & leaving.valid & ~leaving.complete):
                m.d.sync += waiting.eq(Cat(waiting[lanes * operand_bits:], mean.mean))
            vector = Cat(waiting, mean.mean)
        else:
            vector = mean.mean.as_value()
        m.d.comb += [
            unique_buffer.i.valid.eq(leaving.valid & leaving.complete),
            unique_buffer.i.payload.data.eq(vector),
            unique_buffer.i.payload.first.eq(leaving.first),
            unique_buffer.i.payload.last.eq(leaving.last),
        ]
        return m
