"""relaybot's one HTTP server: the routes adapters and operations mount on it."""
