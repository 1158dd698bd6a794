"""Documents back into Redis: sources (file, JSONL, stdin, export-all directory) and the writer."""
