"""The payments blueprint: start, the test payment page, Klarna's widget, the return page."""
