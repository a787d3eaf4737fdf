"""Talking to the OpenAI-compatible relay: one HTTP client, typed errors, chat and models."""
