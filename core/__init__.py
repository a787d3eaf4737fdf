"""relaybot core: the platform-neutral engine."""
