"""The typed configuration: the core's sections, the base of a platform's section, field types,
loading and problem wording."""
