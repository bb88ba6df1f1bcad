"""Complaints (reklamation, T6): the buyer's "Reklamera vara" and the photos of the fault."""
