"""System model of a Focus accelerator: VLM prefill cycles and energy, dense vs Focus.

Layer above ``golden`` and ``gen.config`` (nothing below imports it). Modules, one concern
each:

``workload``      backbone shape, GEMM list, the nine published cases, cases from files
``sparsity``      per-tile sparsity of every GEMM input; op density; density profiles
``synthetic``     sparsity from the tensor-level model on synthetic activations (cached)
``cache``         content-keyed on-disk cache
``traces``        user traces (.npz; the authors' .pth when torch exists)
``cycles``        cycle counts by cause, array parameters
``published``     the published cycle formula
``calibration``   calibration tables (per-tile functions of our RTL, hash-checked)
``engine_model``  the RTL-calibrated cycle model
``recorded``      benchmark figures recorded in docs/ (for the committed tables)
``calibrate``     building tables from benchmarks or docs, fitting, validation
``dataflow``      DRAM/SRAM traffic (published and ours)
``energy``        published power x time; ours (operations x energies)
``evaluate``      dense and Focus evaluation of a case
``report``, ``plots``  tables, CSV/JSON, PNG
``cli``           ``python -m perf``

See docs/system.md.
"""
