"""The typed configuration: shared sections, field types, loading and errors."""
