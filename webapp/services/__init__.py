"""Services: keyword-only functions taking ``session`` that own every write and its audit entry."""
