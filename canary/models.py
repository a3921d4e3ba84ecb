"""Models of the canary app arrive with their issue; see ../docs/architecture.md."""
