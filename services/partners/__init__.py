"""The partner side: which team systems may talk to careloop, and a client that posts as one would."""
