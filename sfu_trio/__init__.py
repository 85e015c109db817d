"""sfu_trio: a WebRTC Selective Forwarding Unit in Python on Trio."""

__version__ = "0.1.0"
