"""Pictures: sample grids, GIFs and matplotlib plots."""
