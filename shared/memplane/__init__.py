"""memplane: a memory control plane for Open WebUI.

The public surface is the HTTP contract (``memplane.contracts``) and the ``memplane`` command; the
modules below are the vendored library the three functions share.
"""

__version__ = "0.5.0"
__all__ = ["__version__"]
