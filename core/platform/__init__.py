"""What crosses between the core and the adapters: messages, replies, traits, outbox."""
