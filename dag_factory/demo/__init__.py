"""The demo shop: a SQLite source whose rows change day by day."""
