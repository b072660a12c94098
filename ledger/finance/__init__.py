"""Financing decisions: a financier's policy (eligibility, limits, pricing,
buyer grades) applied to the indexed ledger, stored with every reason."""
