"""The desktop app: PySide6, pyvistaqt and RDKit drawings. The only package importing Qt."""
