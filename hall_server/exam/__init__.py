"""The exam domain: rules, in-memory attempt state, writer operations and the service."""
