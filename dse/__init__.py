"""Design-space exploration of the Focus generator: configuration sweeps on Ray.

``python -m dse SWEEP.toml`` expands a sweep file (:mod:`dse.sweep`) into configuration
points, runs every requested step of every point (:mod:`dse.steps`: generate, lint, area,
timing, power, bench, model) as a Ray task keyed by the configuration hash and the step
(:mod:`dse.runner`), caches each finished result on disk, and writes one table with the
Pareto fronts marked and plots (:mod:`dse.results`).

Layering: ``dse`` sits above every other package of the project and nothing imports it. It
reads configurations through :mod:`gen.config` (to validate points and compute their hashes)
and calls the other layers through their command lines, one subprocess per step, each in its
own directory.
"""
