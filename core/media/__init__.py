"""Pictures, sounds and downloads: result fetching, image re-encoding, vision, voice."""
