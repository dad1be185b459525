"""python -m deepcomp: the command line (deepcomp.cli)."""
from .cli import main

raise SystemExit(main())
