"""Stand-in for CoW's ``common`` package."""
