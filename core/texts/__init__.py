"""Every user-facing text in zh and en, the help, and the language lookup."""
