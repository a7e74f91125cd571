"""Results from the hall to the centre: signed result bundles, the upload client, the
central ingest service. See docs/sync.md."""
