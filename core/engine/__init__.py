"""The engine: one message in, a stream of reply events out; history, keys, locks."""
