"""Views of stored data (graphs, runs): they read results, never models."""
