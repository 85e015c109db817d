"""Errors shared by the protocol core."""


class ParseError(ValueError):
    """Bytes or text from a remote peer could not be parsed.

    Every parser of untrusted input raises a subclass of this and nothing else.
    """
