"""Data protection: subject access, erasure and restriction, retention."""
