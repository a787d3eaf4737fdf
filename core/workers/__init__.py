"""Several relaybot processes on one database: who holds what (leases), and for how long."""
