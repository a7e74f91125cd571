"""The central ingest service (市定考办): receives, verifies, stores and re-scores result
bundles; status page and exports. Run: python -m sync.central serve --db ... --site-keys ..."""
