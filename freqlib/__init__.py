"""freqlib: frequency-domain compression of neural networks in PyTorch.

Core: an orthonormal N-d DCT (:func:`dctn`, :func:`idctn`), the zigzag order
(:func:`zigzag_order`), Frequency Regularization as a weight parametrization
(:func:`frequency_regularize`, :func:`materialize`, :class:`FrequencySchedule`), the paper's
parameter tables (:func:`parameter_table`), compact files (:func:`save_compact`,
:func:`load_compact`) and import of the authors' ``frereg`` checkpoints. Layers are chosen with one
``filter_fn(module, fqn)`` for every conversion (:mod:`freqlib.layers`). Occasional regularization
(the NR period) is :mod:`freqlib.occasional`; dense frequency-band pruning of pointwise
convolutions is :mod:`freqlib.pointwise`.
"""

from . import layers, models, occasional, pointwise
from .dct import dct_matrix, dctn, idctn, idctn_box
from .fr import (
    FrequencyRegularization,
    fr_weights,
    frequency_regularize,
    kept_coefficients,
    materialize,
    set_keep,
)
from .interop import load_frereg_state_dict
from .io import CompactFileError, load_compact, save_compact
from .schedule import FrequencySchedule
from .tables import parameter_table
from .zigzag import keep_count, zigzag_box, zigzag_mask, zigzag_order, zigzag_prefix

__version__ = "0.1.0"

__all__ = [
    "CompactFileError",
    "FrequencyRegularization",
    "FrequencySchedule",
    "dct_matrix",
    "dctn",
    "fr_weights",
    "frequency_regularize",
    "idctn",
    "idctn_box",
    "keep_count",
    "kept_coefficients",
    "load_compact",
    "layers",
    "load_frereg_state_dict",
    "materialize",
    "models",
    "occasional",
    "pointwise",
    "parameter_table",
    "save_compact",
    "set_keep",
    "zigzag_box",
    "zigzag_mask",
    "zigzag_order",
    "zigzag_prefix",
]
