from hub_common.migrations import run_env
from hub_notifier.adapters.orm import metadata

run_env(metadata)
