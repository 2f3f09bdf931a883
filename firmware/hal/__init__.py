"""Board abstraction: clock (injectable ticks/time) and atomic small-record storage."""
