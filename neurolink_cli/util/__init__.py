"""Small helpers with no I/O policy of their own: time, JSON, validation, the atomic file writer."""
