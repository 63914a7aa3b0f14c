"""Translation of a snapshot into plan items, one small module per kind of fact (DESIGN §3.3)."""
