"""``python -m unielu``: the same as the ``unielu`` command."""

from unielu.cli import main

raise SystemExit(main())
