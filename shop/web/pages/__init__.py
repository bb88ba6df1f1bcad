"""The pages blueprint."""
