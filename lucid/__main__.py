"""``python -m lucid``: the same command line as the ``lucid`` script."""

from lucid._cli import main

raise SystemExit(main())
