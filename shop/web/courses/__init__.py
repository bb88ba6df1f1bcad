"""Course pages, booking and the booker's course bookings (T9)."""
