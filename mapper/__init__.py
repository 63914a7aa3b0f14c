"""mapper."""
