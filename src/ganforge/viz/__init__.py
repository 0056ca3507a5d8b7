"""Pictures: sample grids, GIFs, matplotlib plots and the HTML figure pieces of ``ganforge report``.

Owns: how an image or plot is drawn and written (through ``ganforge.outputs``); never when, nor from which model.
May import: ``outputs`` and ``data`` (``to_uint8``, the toy targets).
"""
