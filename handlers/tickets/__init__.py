"""Residents' tickets: the four guided filing flows, "my tickets", follow-ups, rating, and the
personal-data commands."""
