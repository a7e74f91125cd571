"""One database layer: schema, connections and the single group-commit writer."""
