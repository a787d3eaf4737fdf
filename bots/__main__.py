"""python -m bots: the same as the relaybot command."""

from bots.cli import main

raise SystemExit(main())
