"""What other code may import from the operator's CLI: this module and nothing else.

No service imports the CLI (a service never depends on its operator's tool;
`tests/unit/test_package_reach.py` fails if one does). The benchmarks time what a command
does without going through the command line, so they take it from here:

- `run_import`: what `referral-hub directory import FILE` runs (read, check and publish a
  community services feed), and the `ImportPlan` it returns.
"""

from __future__ import annotations

from hub_cli.directory.importer import ImportPlan, run_import

__all__ = ["ImportPlan", "run_import"]
