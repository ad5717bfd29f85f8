"""One test adapter per backend (its module's name is the backend's)."""
