"""The withdrawal function "Ångra köpet" (T5.9) and the EU model withdrawal form."""
