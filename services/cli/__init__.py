"""The ``careloop`` command line: serve, post, token, contracts, audit."""
