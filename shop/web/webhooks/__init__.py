"""The webhooks blueprint: providers' notifications (CSRF-exempt, verified by the provider)."""
