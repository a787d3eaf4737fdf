"""Long relay tasks: the durable job runner, its table, and one backend per family."""
