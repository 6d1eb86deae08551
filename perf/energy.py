"""Energy models: the published power x time model, and ours (operations x energies).

:class:`PublishedEnergy` (spec system.md 3)
    ``DRAM bytes x 99.98 pJ/B + (SRAM macros' peak power + units' power) x run time``. The
    SRAM power is the sum over the published buffers of each macro's leakage plus its average
    read/write current at 500 MHz; the units' power is the published synthesized units (the
    SIC/SEC units only for Focus). Nothing depends on activity.

:class:`OperationEnergy` (ours)
    With a table that ``python -m power`` measured on our netlists (``focus-power-energy/1``,
    committed per configuration as ``perf/data/energy/<config>.json``): each block's idle
    power (recorded register states, no toggles: the clock tree and flip-flops of a design
    without clock gating) x run time, plus its dynamic energy per operation (whole-run energy
    above idle) x the operation counts, for the blocks the mode has (dense: array, scatter
    accumulator, output converter, control; Focus adds the SIC gather, its tile buffer and the
    SEC unit); plus SRAM bytes x energy per byte, SRAM leakage x run time and DRAM bytes x
    energy per byte, which are not measured (SRAM macros are blackboxes in our flow) and come
    from the published figures of ``perf/data/energy-placeholder.json``. Our logic is measured
    on OSU 0.18 um / 1.8 V and the memory figures are 28 nm / DDR4, so the logic energies are
    scaled to 28 nm / 0.9 V first (:data:`LOGIC_SCALE_TO_28NM`, stated in every report).
    With the PLACEHOLDER table itself (every value derived from published figures):
    operation counts x energy per operation, and every output that uses it says so.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["PUBLISHED_DATA", "ENERGY_PLACEHOLDER", "MEASURED_ENERGY", "LOGIC_SCALE_TO_28NM",
           "load_published", "default_energy_table", "PublishedEnergy", "OperationEnergy"]

PUBLISHED_DATA = Path(__file__).parent / "data" / "published.json"
ENERGY_PLACEHOLDER = Path(__file__).parent / "data" / "energy-placeholder.json"
#: Measured logic energies per configuration (``python -m power``'s ``energy.json``).
MEASURED_ENERGY = Path(__file__).parent / "data" / "energy"
_LOGIC = ("pe_cycle", "scatter_add", "gather_key", "sec_vector")
_MEMORY = ("sram_read_byte", "sram_write_byte", "dram_byte")

#: First-order scaling of switching energy (E ~ C V^2, C proportional to feature size) from
#: the OSU 0.18 um / 1.8 V library our power flow measures with to the published 28 nm /
#: 0.9 V node: (28 / 180) x (0.9 / 1.8)^2 (docs/power.md; only a first-order rule).
LOGIC_SCALE_TO_28NM = (28 / 180) * (0.9 / 1.8) ** 2

#: Component of the system model -> (idle power entry of a measured table, dynamic energy
#: entry per operation and the operation it counts, whether a dense accelerator has it).
_MEASURED_COMPONENTS = {
    "array": ("array_idle", "pe_cycle", "pe_cycles", True),
    "scatter": ("scatter_idle", "scatter_add", "scatter_adds", True),
    "converter": ("converter_idle", "convert_element", "convert_elements", True),
    "control": ("glue_idle", None, None, True),
    "gather": ("gather_idle", "gather_key", "gather_keys", False),
    "tile_buffer": ("tile_buffer_idle", None, None, False),
    "sec": ("sec_total_idle", "sec_vector", "sec_vectors", False),
}


def default_energy_table(config_name):
    """The committed measured table of ``config_name`` when there is one, else the
    PLACEHOLDER."""
    path = MEASURED_ENERGY / f"{config_name}.json" if config_name else None
    return path if path is not None and path.exists() else ENERGY_PLACEHOLDER


def load_published() -> dict:
    """The published figures and constants (``perf/data/published.json``)."""
    return json.loads(PUBLISHED_DATA.read_text())


class PublishedEnergy:
    """Power x time, with the published constants."""

    name = "published"
    description = "published (power x time)"
    placeholder = False
    measured = False

    def __init__(self, published: dict | None = None):
        data = published or load_published()
        self.frequency = data["frequency_hz"]
        self.dram_pj = data["dram_pj_per_byte"]
        macros = data["sram_macros"]
        columns = macros["columns"]

        def peak_mw(name):
            spec = dict(zip(columns, macros[name]))
            average_ua_per_mhz = (spec["read_ua_per_mhz"] + spec["write_ua_per_mhz"]) / 2
            return (spec["leakage_ua"] + average_ua_per_mhz * self.frequency / 1e6) * spec["voltage_v"] / 1000

        self.sram_mw = sum(peak_mw(name) * count for parts in data["sram_buffers"].values()
                           for name, count in parts)
        units = data["units_mw"]
        focus_only = set(data["focus_only_units"])
        self.core_mw = {
            True: sum(power * count for power, count in units.values()),
            False: sum(power * count for name, (power, count) in units.items()
                       if name not in focus_only),
        }

    def energy(self, *, cycles: float, dram_bytes: float, focus: bool, **_) -> dict[str, float]:
        """Energy in mJ by component."""
        seconds = cycles / self.frequency
        return {"dram": dram_bytes * self.dram_pj * 1e-9,
                "sram": self.sram_mw * seconds,
                "core": self.core_mw[focus] * seconds}


class OperationEnergy:
    """Operation counts x per-operation energies from a table file."""

    name = "ours"

    def __init__(self, path=None, config=None, logic_scale=LOGIC_SCALE_TO_28NM):
        self.path = Path(path) if path is not None else ENERGY_PLACEHOLDER
        table = self._read(self.path)
        self.measured = table.get("format") == "focus-power-energy/1"
        self.logic_scale = logic_scale if self.measured else 1.0
        self.idle_mw, self.dynamic_pj = {}, {}
        if self.measured:
            expected = table.get("configuration", {}).get("hash")
            if config is not None and expected != config.hash:
                raise ValueError(f"energy table {self.path} was measured on configuration hash "
                                 f"{expected}, this configuration is {config.hash}: run "
                                 f"python -m power for it (make power)")
            self.idle_mw, self.dynamic_pj = self._measured_logic(table)
            memory = self._read(ENERGY_PLACEHOLDER)
            table = {"format": "focus-perf-energy/1", "status": table.get("status"),
                     "frequency_hz": table["frequency_hz"],
                     "pj": {**{key: memory["pj"][key] for key in _MEMORY},
                            **{key: table["pj"][key] for key in _LOGIC}},
                     "mw": memory["mw"]}
        if table.get("format") != "focus-perf-energy/1":
            raise ValueError(f"energy table {self.path}: format must be 'focus-perf-energy/1' "
                             f"or 'focus-power-energy/1'")
        try:
            self.pj = {key: float(entry["value"]) for key, entry in table["pj"].items()}
            self.mw = {key: float(entry["value"]) for key, entry in table["mw"].items()}
            self.frequency = float(table["frequency_hz"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"energy table {self.path}: malformed ({error})") from None
        needed = {"pe_cycle", "scatter_add", "gather_key", "sec_vector", "sram_read_byte",
                  "sram_write_byte", "dram_byte"}
        missing = needed - set(self.pj)
        if missing or "sram_leakage" not in self.mw:
            raise ValueError(f"energy table {self.path}: missing {sorted(missing) or ['sram_leakage']}")
        self.placeholder = table.get("status") == "PLACEHOLDER"

    def _measured_logic(self, table):
        """Idle mW per component and dynamic pJ per operation (dense and concentrated) of a
        ``focus-power-energy/1`` table."""
        try:
            mw = {key: float(entry["value"]) for key, entry in table["mw"].items()}
            pj = {key: float(entry["value"]) for key, entry in table["pj"].items()}
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"energy table {self.path}: malformed ({error})") from None
        needed = [idle for idle, *_ in _MEASURED_COMPONENTS.values()] + list(_LOGIC)
        needed += [f"{op}_dynamic" for _, op, *_ in _MEASURED_COMPONENTS.values() if op]
        missing = [key for key in needed if key not in mw and key not in pj]
        if missing:
            raise ValueError(f"energy table {self.path}: missing {missing} (measure it again "
                             f"with python -m power)")
        idle = {name: mw[entry[0]] for name, entry in _MEASURED_COMPONENTS.items()}
        dynamic = {op: pj[f"{op}_dynamic"] for _, op, *_ in _MEASURED_COMPONENTS.values() if op}
        dynamic["pe_cycle_concentrated"] = pj.get("pe_cycle_concentrated_dynamic",
                                                  dynamic["pe_cycle"])
        return idle, dynamic

    @property
    def description(self) -> str:
        """How the logic energies are obtained, for report headers."""
        if not self.measured:
            return self.name + (" (PLACEHOLDER)" if self.placeholder else "")
        return (f"{self.name} (measured {self.path.name}: idle power x time + dynamic energy "
                f"per operation, logic x{self.logic_scale:.4g} from 0.18 um / 1.8 V to 28 nm / "
                f"0.9 V; SRAM and DRAM from published figures)")

    @staticmethod
    def _read(path):
        try:
            return json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read energy table {path}: {error}") from None

    def energy(self, *, cycles: float, dram_bytes: float, ops: dict, sram_bytes: float,
               focus: bool = True, **_) -> dict[str, float]:
        """Energy in mJ by component."""
        pj = self.pj
        seconds = cycles / self.frequency
        sram_pj = (pj["sram_read_byte"] + pj["sram_write_byte"]) / 2
        memory = {
            "sram": sram_bytes * sram_pj * 1e-9,
            "leakage": self.mw["sram_leakage"] * seconds,
            "dram": dram_bytes * pj["dram_byte"] * 1e-9,
        }
        if not self.measured:
            return {
                "array": ops["pe_cycles"] * pj["pe_cycle"] * 1e-9,
                "scatter": ops["scatter_adds"] * pj["scatter_add"] * 1e-9,
                "gather": ops["gather_keys"] * pj["gather_key"] * 1e-9,
                "sec": ops["sec_vectors"] * pj["sec_vector"] * 1e-9,
                **memory,
            }
        logic = {}
        for name, (_, op, count, dense) in _MEASURED_COMPONENTS.items():
            if not (focus or dense):
                logic[name] = 0.0
                continue
            energy_pj = self.idle_mw[name] * 1e9 * seconds
            if op is not None:
                key = "pe_cycle_concentrated" if op == "pe_cycle" and focus else op
                energy_pj += ops.get(count, 0.0) * self.dynamic_pj[key]
            logic[name] = energy_pj * self.logic_scale * 1e-9
        return {**logic, **memory}
