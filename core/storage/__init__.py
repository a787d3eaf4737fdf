"""Where state lives: the SQLite store and its migrations."""
