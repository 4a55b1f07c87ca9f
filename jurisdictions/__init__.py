"""The shipped jurisdiction rule packs: one folder per jurisdiction code, installed with the package."""
from pathlib import Path

__all__ = ["PACKS_DIR"]

PACKS_DIR = Path(__file__).resolve().parent
