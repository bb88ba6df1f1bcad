"""Receipts, invoices and digital delivery: blueprints ``documents`` and ``downloads``."""
