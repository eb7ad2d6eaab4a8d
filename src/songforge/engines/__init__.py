"""Music engines behind one small interface (see `base`)."""
