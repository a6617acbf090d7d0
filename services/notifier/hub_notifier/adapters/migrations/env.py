from hub_common.storage.migrations import run_env
from hub_notifier.adapters.orm import metadata

run_env(metadata)
