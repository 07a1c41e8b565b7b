"""`python -m memplane_bench`: the same as `memplane-bench`."""

from memplane_bench.cli import main

raise SystemExit(main())
