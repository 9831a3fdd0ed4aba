"""``python -m neurofabric`` runs the command-line interface."""

from neurofabric.cli import main

raise SystemExit(main())
