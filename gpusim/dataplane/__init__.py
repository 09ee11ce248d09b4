"""Request data plane of inference services: compiled multi-server queues between control events.

See `gpusim.dataplane.plane` for the model and `gpusim.dataplane.histogram` for latency histograms.
"""

from gpusim.dataplane.histogram import Histogram, HistogramConfig, quantile
from gpusim.dataplane.plane import ROUTING, DataPlane, WindowMetrics

__all__ = ["ROUTING", "DataPlane", "Histogram", "HistogramConfig", "WindowMetrics", "quantile"]
