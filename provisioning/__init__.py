"""Central provisioning: rosters, item banks, paper assembly, signed and encrypted site bundles."""
