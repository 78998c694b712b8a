"""snncompile's tests. A regular package, so that no other top-level ``tests`` package (lava-nc and lava-dl
install one into site-packages) shadows it."""
