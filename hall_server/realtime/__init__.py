"""Socket.IO handlers: the thin layer between the wire and the exam service."""
