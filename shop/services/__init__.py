"""Use cases: load rows, ask the domain, save. Services own the transaction and take ``now``."""
