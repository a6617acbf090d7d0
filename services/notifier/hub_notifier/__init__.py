"""Notifier: tracks every referral's Task and tells the referrer each change."""
