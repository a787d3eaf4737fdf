"""The terminal adapter behind `relaybot chat`."""
