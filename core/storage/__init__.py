"""Where state lives: one Store (store.py) on SQLite (sqlite.py) or PostgreSQL (postgres.py),
chosen by storage.url (factory.py); the contract in db.py; twin migrations in schema_*.py."""
