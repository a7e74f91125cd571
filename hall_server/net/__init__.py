"""Networking: the laptop's LAN address and the listening socket."""
