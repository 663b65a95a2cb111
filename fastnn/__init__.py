"""fastnn: neural networks from scratch, in Numba."""
