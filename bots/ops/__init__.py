"""Operations: /healthz, Prometheus /metrics and config hot reload (README "Operations")."""
