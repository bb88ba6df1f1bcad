"""The shop's tables. Import every model module here so Alembic sees them all."""

from shop.models.audit import AuditEntry
from shop.models.cart import CartLine
from shop.models.catalog import Category, Product, StockLevel
from shop.models.customer import Address, Consent, Customer, PasswordResetToken, RoleGrant
from shop.models.outbox import OutboxMessage

__all__ = [
    "Address",
    "AuditEntry",
    "CartLine",
    "Category",
    "Consent",
    "Customer",
    "OutboxMessage",
    "PasswordResetToken",
    "Product",
    "RoleGrant",
    "StockLevel",
]
