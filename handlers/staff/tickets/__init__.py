"""The staff core's ticket operations, one module per area, written once for every desk."""
