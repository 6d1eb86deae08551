"""The top-level blocks the generator emits, one Verilog file each."""

import dataclasses

from rtl.arith import get_format
from rtl.systolic_array import SystolicArray


@dataclasses.dataclass(frozen=True)
class Block:
    """A generated block: its Verilog module name and how to build it from a configuration."""

    name: str
    module: str
    build: callable
    description: str


BLOCKS = [
    Block("systolic_array", "focus_systolic_array",
          lambda cfg: SystolicArray(get_format(cfg.dtype), rows=cfg.rows, cols=cfg.cols),
          "weight-stationary rows x cols array, double-buffered weights"),
]
