"""Point clouds: I/O, data sets, PointFlow and other point densities, metrics, analyses."""
