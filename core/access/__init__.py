"""Access and spending (issue 12): who may use the bot, how much, and what is kept."""
