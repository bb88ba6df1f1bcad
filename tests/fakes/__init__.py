"""Local fake HTTP servers that speak providers' documented APIs (no internet in tests)."""
