"""`referral-hub`: the operator's command line."""
