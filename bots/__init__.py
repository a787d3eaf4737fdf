"""Platform adapters and the command line; the only place that knows a platform."""
