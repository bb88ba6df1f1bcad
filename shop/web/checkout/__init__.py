"""Checkout: buyer, addresses, delivery, payment, summary, place order, thanks."""
