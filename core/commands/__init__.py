"""The command table and what each command does (chat, pictures, media, buttons)."""
