"""Pieces every adapter may use: flood control, text splitting, inline Markdown."""
