"""The shop's tables. Import every model module here so Alembic sees them all."""

from shop.models.aftersale import (
    Inspection,
    Refund,
    ReturnParcel,
    Shipment,
    ShipmentLine,
    Withdrawal,
    WithdrawalLine,
)
from shop.models.audit import AuditEntry
from shop.models.cart import CartLine
from shop.models.catalog import Category, Product, StockLevel
from shop.models.complaint import Complaint, ComplaintPhoto
from shop.models.course import (
    Course,
    CourseBooking,
    CourseCancellation,
    CourseParticipant,
    CourseRefund,
    CourseSession,
    SeatTransfer,
    WaitingListEntry,
)
from shop.models.customer import Address, Consent, Customer, PasswordResetToken, RoleGrant
from shop.models.digital import DownloadFile, DownloadGrant, SoftwareCode
from shop.models.invoice import (
    BookkeepingRecord,
    CreditCheck,
    IncomingPayment,
    Invoice,
    InvoiceReminder,
    NumberSeries,
)
from shop.models.order import Order, OrderFee, OrderLine, StockMovement
from shop.models.outbox import OutboxAttachment, OutboxMessage
from shop.models.payment import Payment, ProviderEvent
from shop.models.registration import PendingRegistration
from shop.models.retention import (
    DataRequest,
    LegalHold,
    RetentionLock,
    RetentionLogEntry,
    RetentionRun,
)

__all__ = [
    "Address",
    "AuditEntry",
    "BookkeepingRecord",
    "CartLine",
    "Category",
    "Complaint",
    "ComplaintPhoto",
    "Consent",
    "Course",
    "CourseBooking",
    "CourseCancellation",
    "CourseParticipant",
    "CourseRefund",
    "CourseSession",
    "CreditCheck",
    "Customer",
    "DataRequest",
    "DownloadFile",
    "DownloadGrant",
    "IncomingPayment",
    "Inspection",
    "Invoice",
    "LegalHold",
    "InvoiceReminder",
    "NumberSeries",
    "Order",
    "OrderFee",
    "OrderLine",
    "OutboxAttachment",
    "OutboxMessage",
    "PasswordResetToken",
    "Payment",
    "PendingRegistration",
    "Product",
    "ProviderEvent",
    "Refund",
    "RetentionLock",
    "RetentionLogEntry",
    "RetentionRun",
    "ReturnParcel",
    "RoleGrant",
    "SeatTransfer",
    "Shipment",
    "ShipmentLine",
    "SoftwareCode",
    "StockLevel",
    "StockMovement",
    "WaitingListEntry",
    "Withdrawal",
    "WithdrawalLine",
]
