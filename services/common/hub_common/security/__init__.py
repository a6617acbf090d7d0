"""Who may do what: credentials, the audit trail, what a referrer may see."""
