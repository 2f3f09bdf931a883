"""`make run`: the whole system on loopback, narrated (see __main__)."""
