"""``python -m unielu``: the same as the ``unielu`` command."""

from unielu._cli import main

raise SystemExit(main())
