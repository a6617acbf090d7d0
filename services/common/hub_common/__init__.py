"""What every referral hub service shares: topic names, event headers, FHIR vocabulary, plumbing."""
