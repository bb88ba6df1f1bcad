"""The newsletter blueprint: the unsubscribe link in every newsletter mail (R2.6)."""
