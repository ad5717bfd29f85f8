"""The full benchmark suite (``nox -s bench``): prints the table, writes results.json
and refreshes differences.json. The docs render both."""

from __future__ import annotations

import sys
from pathlib import Path

from unielu.bench import main

if __name__ == "__main__":
    here = Path(__file__).parent
    status = main(full=True, json_path=str(here / "results.json"))
    if status == 0:
        import differences

        differences.main()
    sys.exit(status)
