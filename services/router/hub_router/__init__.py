"""Router: the right link worker for every referral, with offers that can be declined."""
