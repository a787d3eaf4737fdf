"""Discord: the adapter (discord.py over the gateway and REST), slash commands, buttons, threads."""
