"""Order pages: the customer's order page and the guest's signed-link page."""
