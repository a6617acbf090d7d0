"""The community services directory import (Open Referral UK -> directory.services)."""
