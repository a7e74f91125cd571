"""Who may do what: QR tokens, candidate sessions, staff logins, rate limits."""
