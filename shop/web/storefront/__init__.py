"""The storefront blueprint."""
