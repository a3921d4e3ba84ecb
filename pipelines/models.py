"""Models of the pipelines app arrive with their issue; see ../docs/architecture.md."""
