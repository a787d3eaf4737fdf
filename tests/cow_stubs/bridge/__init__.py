"""Stand-in for CoW's ``bridge`` package."""
