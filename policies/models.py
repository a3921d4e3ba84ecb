"""Models of the policies app arrive with their issue; see ../docs/architecture.md."""
