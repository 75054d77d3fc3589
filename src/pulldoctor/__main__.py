"""Allow ``python -m pulldoctor``."""

from pulldoctor.cli import main

raise SystemExit(main())
