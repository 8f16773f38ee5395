"""Loss curves for display: smoothing, axis preparation, downsampling, figures.

Everything here changes what is drawn, never the run's data: smoothing is
TensorBoard's debiased moving average, outlier clipping only picks a y range,
and downsampling returns indices into the full series.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy.signal import lfilter

logger = logging.getLogger(__name__)

DEFAULT_SMOOTHING = 0.6
DEFAULT_MAX_POINTS = 2000


def smooth(values: np.ndarray | Sequence[float], weight: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """TensorBoard's scalar smoothing: a debiased exponential moving average.

    Non-finite values pass through unchanged and do not feed the average; a
    constant series is returned as it is. Same result as TensorBoard's
    ``resmoothDataset``:

    >>> smooth([1.0, 2.0, float("nan"), 3.0], 0.5).round(4).tolist()
    [1.0, 1.6667, nan, 2.4286]
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"smoothing weight must be between 0 and 1, not {weight}")
    raw = np.asarray(values, dtype=np.float64)
    out = raw.copy()
    if raw.size == 0 or np.all(raw == raw[0]):
        return out
    finite = np.isfinite(raw)
    # last = last * w + (1 - w) * x, starting from 0, is a first-order IIR filter.
    ema = lfilter([1.0 - weight], [1.0, -weight], raw[finite])
    if weight != 1.0:
        ema /= 1.0 - weight ** np.arange(1, ema.size + 1, dtype=np.float64)
    out[finite] = ema
    return out
