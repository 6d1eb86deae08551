"""Every stream payload layout of the blocks, in one place.

Each function returns an ``amaranth.lib.data`` layout; the blocks build their stream
signatures from these, and ``gen`` writes their bit layouts into ``manifest.json``.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data


def tile_vector(element_shape, length):
    """A vector beat of a tile: ``data`` (``length`` elements), ``first`` and ``last`` markers."""
    return data.StructLayout({
        "data": data.ArrayLayout(element_shape, length),
        "first": 1,
        "last": 1,
    })


def map_beat(m_tile, lanes):
    """``lanes`` similarity-map entries (consecutive tokens) and the slice's ``last`` marker.

    Each entry is ``group`` (the token's unique-vector index within the K-slice) and ``zero``
    (the token's vector is all-zero: nothing to add).
    """
    entry = data.StructLayout({"group": range(max(m_tile, 2)), "zero": 1})
    return data.StructLayout({"entries": data.ArrayLayout(entry, lanes), "last": 1})


# --- SEC: analyzer, sorter, offset coder -------------------------------------------------

def groups(max_tokens, sort_width):
    """Words of the importance buffer: ``ceil(max_tokens / sort_width)``."""
    return -(-max_tokens // sort_width)


def probs_beat(value_width, sort_width, max_tokens):
    """One attention-probability vector of the analyzer input.

    ``data[l]`` is the probability of image token ``group * sort_width + l`` (lanes at or past
    ``tokens`` are padding and ignored); ``tokens`` is the layer's image-token count M;
    ``last`` closes the layer.
    """
    return data.StructLayout({
        "data": data.ArrayLayout(unsigned(value_width), sort_width),
        "group": range(max(groups(max_tokens, sort_width), 2)),
        "tokens": range(max_tokens + 1),
        "last": 1,
    })


def importance_beat(value_width):
    """One token of an importance pass, in token order; ``last`` on token M - 1."""
    return data.StructLayout({"value": unsigned(value_width), "last": 1})


#: A pass request from the sorter to the analyzer: ``release = 0`` asks for one more pass over
#: the buffer, ``release = 1`` ends the layer (the analyzer clears the buffer and accepts the
#: next layer).
READ_REQUEST = data.StructLayout({"release": 1})


def index_beat(max_tokens):
    """One selected token index; ``last`` on the layer's final (largest) index."""
    return data.StructLayout({"index": range(max(max_tokens, 2)), "last": 1})


def code_beat(offset_bits):
    """One offset code (spec 2.2; 0 = escape); ``last`` on the layer's final code."""
    return data.StructLayout({"code": unsigned(offset_bits), "last": 1})


# --- SIC gather ---------------------------------------------------------------------------

def vector_layout(operand_shape, vector_size, position_bits):
    """An input beat: a token's vector of the slot, its original position, sequence markers."""
    return data.StructLayout({
        "data": data.ArrayLayout(operand_shape, vector_size),
        "position": position_bits,
        "first": 1,
        "last": 1,
    })


def key_layout(operand_shape, vector_size, *, position_bits, m_tile):
    """A key entering the layouter: its vector, position and place in the tile."""
    return data.StructLayout({
        "data": data.ArrayLayout(operand_shape, vector_size),
        "position": position_bits,
        "index": range(m_tile),      # row of the key within its tile
        "tile_first": 1,             # first key of a tile: the window starts empty
        "tile_last": 1,              # last key of a tile
    })


def key_tag_layout(*, slot_bits, m_tile):
    """What the later stages need to know about a key besides its vector."""
    return data.StructLayout({
        "slot": slot_bits,           # layouter slot holding the key (and, later, its norm)
        "index": range(m_tile),
        "zero": 1,                   # all-zero vector: map code ZERO, no storage
        "tile_last": 1,
    })


def group_layout(operand_shape, vector_size, *, lanes, slot_bits, m_tile, chunks=1):
    """One transfer of a beat for the similarity matcher: a key, ``lanes`` items and, when a
    beat is held for several cycles (``chunks > 1``), which chunk of the vectors this cycle's
    transfer is for. Item 0 (lane 0 of the key's first beat) is the key itself."""
    vector = data.ArrayLayout(operand_shape, vector_size)
    fields = {
        "key": vector,
        "candidates": data.ArrayLayout(vector, lanes),
        "valid": lanes,              # candidate usable (in the tile, retained, non-zero,
                                     # finite) and the key usable too; never item 0
        "slots": data.ArrayLayout(slot_bits, lanes),
        "first": 1,                  # first beat (group) of the key
        "last": 1,                   # last beat of the key
        "tag": key_tag_layout(slot_bits=slot_bits, m_tile=m_tile),
    }
    if chunks > 1:
        fields["chunk"] = range(chunks)
    return data.StructLayout(fields)


def decision_layout(*, slot_bits, m_tile):
    """The matcher's verdict on one key."""
    return data.StructLayout({
        "similar": 1,                 # some candidate passed the threshold test
        "best_slot": slot_bits,       # layouter slot of the chosen candidate
        "tag": key_tag_layout(slot_bits=slot_bits, m_tile=m_tile),
    })


def map_layout(m_tile):
    """A similarity-map beat: the token's compact group index or the ZERO code."""
    return data.StructLayout({"code": m_tile.bit_length(), "first": 1, "last": 1})
