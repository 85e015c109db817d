"""Sans-I/O forwarding pipeline: synchronous, explicit ``now``, no sockets and no Trio."""
