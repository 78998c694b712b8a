"""Running snncompile's files in other tools (norse), with the convention shims each needs; not part of the IR."""
