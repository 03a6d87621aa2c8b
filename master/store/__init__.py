"""The master's database: SQLModel tables, migrations and queries."""
