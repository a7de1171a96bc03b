"""A run directory: its one reader, the writer's opening of a store, the writer lock, and the views both share."""
