"""Energy models: the published power x time model, and ours (operations x energies).

:class:`PublishedEnergy` (spec system.md 3)
    ``DRAM bytes x 99.98 pJ/B + (SRAM macros' peak power + units' power) x run time``. The
    SRAM power is the sum over the published buffers of each macro's leakage plus its average
    read/write current at 500 MHz; the units' power is the published synthesized units (the
    SIC/SEC units only for Focus). Nothing depends on activity.

:class:`OperationEnergy` (ours)
    ``sum of operation counts x energy per operation + SRAM bytes x energy per byte + SRAM
    leakage x run time + DRAM bytes x energy per byte``. Operations: PE-cycles of vectors
    streaming through the array, scatter additions, gathered key vectors, SEC analyzer
    vectors and sorter cycles. The energies come from a table file: the logic energies that
    ``python -m power`` measured on our netlists (``focus-power-energy/1``, committed per
    configuration as ``perf/data/energy/<config>.json``), whose SRAM and DRAM entries (not
    measured: SRAM macros are blackboxes in our flow) are taken from the published figures of
    ``perf/data/energy-placeholder.json``; or that PLACEHOLDER table itself (every value
    derived from published figures), and every output that uses it says so.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["PUBLISHED_DATA", "ENERGY_PLACEHOLDER", "MEASURED_ENERGY", "load_published",
           "default_energy_table", "PublishedEnergy", "OperationEnergy"]

PUBLISHED_DATA = Path(__file__).parent / "data" / "published.json"
ENERGY_PLACEHOLDER = Path(__file__).parent / "data" / "energy-placeholder.json"
#: Measured logic energies per configuration (``python -m power``'s ``energy.json``).
MEASURED_ENERGY = Path(__file__).parent / "data" / "energy"
_LOGIC = ("pe_cycle", "scatter_add", "gather_key", "sec_vector")
_MEMORY = ("sram_read_byte", "sram_write_byte", "dram_byte")


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
    components = ("dram", "sram", "core")
    placeholder = False

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
    components = ("array", "scatter", "gather", "sec", "sram", "leakage", "dram")

    def __init__(self, path=None, config=None):
        self.path = Path(path) if path is not None else ENERGY_PLACEHOLDER
        table = self._read(self.path)
        self.measured = table.get("format") == "focus-power-energy/1"
        if self.measured:
            expected = table.get("configuration", {}).get("hash")
            if config is not None and expected != config.hash:
                raise ValueError(f"energy table {self.path} was measured on configuration hash "
                                 f"{expected}, this configuration is {config.hash}: run "
                                 f"python -m power for it (make power)")
            memory = self._read(ENERGY_PLACEHOLDER)
            missing = [key for key in _LOGIC if key not in table.get("pj", {})]
            if missing:
                raise ValueError(f"energy table {self.path}: missing {missing}")
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

    @staticmethod
    def _read(path):
        try:
            return json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read energy table {path}: {error}") from None

    def energy(self, *, cycles: float, dram_bytes: float, ops: dict, sram_bytes: float,
               **_) -> dict[str, float]:
        """Energy in mJ by component."""
        pj = self.pj
        sram_pj = (pj["sram_read_byte"] + pj["sram_write_byte"]) / 2
        return {
            "array": ops["pe_cycles"] * pj["pe_cycle"] * 1e-9,
            "scatter": ops["scatter_adds"] * pj["scatter_add"] * 1e-9,
            "gather": ops["gather_keys"] * pj["gather_key"] * 1e-9,
            "sec": ops["sec_vectors"] * pj["sec_vector"] * 1e-9,
            "sram": sram_bytes * sram_pj * 1e-9,
            "leakage": self.mw["sram_leakage"] * cycles / self.frequency,
            "dram": dram_bytes * pj["dram_byte"] * 1e-9,
        }
