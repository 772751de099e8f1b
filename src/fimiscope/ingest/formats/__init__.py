"""Built-in input formats; each module registers one format."""
