"""Drop-in replacement for the loop-based "Numpy-CNN" (``CNN.forward``, ``CNN.backward``,
``CNN.utils``, ``CNN.network``): change the imports, keep the numbers.

    from fastnn.compat.forward import *    # was: from CNN.forward import *
    from fastnn.compat.backward import *
    from fastnn.compat.utils import *
    from fastnn.compat.network import *

Every function keeps its name, signature, defaults, return types, shapes and float64 results,
including the reference's quirks (Adam moments that restart in every ``adamGD`` call, max-pool
backward that assigns rather than adds, ``int()`` normalization), and runs on fastnn's Numba
kernels. Softmax is computed stably, so it stays finite where the reference overflows.
"""

from .weights import (
    from_parameters,
    from_thetas,
    thetas_from_vector,
    thetas_to_vector,
    to_parameters,
    to_thetas,
)

__all__ = ["from_parameters", "from_thetas", "thetas_from_vector", "thetas_to_vector",
           "to_parameters", "to_thetas"]
