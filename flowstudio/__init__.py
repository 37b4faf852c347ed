"""FlowStudio: a playground for flow-based generative models on point clouds and molecules.

The package is layered (see ``CONTRIBUTING.md``): ``flows`` is a pure PyTorch flow
library, ``pointclouds`` and ``molecules`` are the two engines built on it, ``training``
runs either engine headless, ``cli`` exposes them on the command line and ``gui`` is the
only place that imports Qt.
"""

__version__ = "0.1.0"
