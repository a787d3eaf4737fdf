"""Discord: for now only the ``discord:`` section of the configuration (the adapter comes next)."""
