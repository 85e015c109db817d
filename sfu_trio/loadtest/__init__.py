"""A load generator for sfu_trio (and Janus): synthetic participants that speak the real protocol
(WebSocket signaling, ICE, DTLS, SRTP) with no encoder and no decoder.

``python -m sfu_trio.loadtest --help`` (or ``sfu-trio loadtest``). A client of the server: it
imports only the sans-I/O ``sfu_trio.webrtc`` codecs, never the server's own layers.
"""
