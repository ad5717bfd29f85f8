"""The full benchmark suite (``nox -s bench``): measures with ``unielu bench``'s code,
checks the targets of benchmarks/targets.py, runs the model benchmark
(benchmarks/models.py), writes results.json and refreshes differences.json, each
stamped (benchmarks/stamp.py). The docs render both."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import models
import stamp
import targets
from testkit import ADAPTERS

from unielu.bench import Plan, machine, measure, report

if __name__ == "__main__":
    here = Path(__file__).parent
    started = machine()  # the load average before anything runs
    results = measure(full=True, plan=Plan(ADAPTERS))
    results["targets"] = targets.check(results)
    print(report(results))
    print()
    print(targets.format_verdicts(results["targets"]))
    print()
    # Each framework in a child process of its own: training and inference steps.
    results["models"] = models.run(models.parse_only(None), models.FULL)
    print()
    print(models.format_results(results["models"]))
    # What was measured, where, from which sources: python -m tools.tables --check
    # fails once the sources change (benchmarks/stamp.py).
    results["stamp"] = stamp.make("results", started)
    (here / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {here / 'results.json'}")
    import differences

    differences.main()
    sys.exit(0)
