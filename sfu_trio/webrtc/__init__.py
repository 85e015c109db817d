"""Sans-I/O WebRTC protocol core: synchronous, explicit ``now``, no sockets and no Trio."""
