"""Masking personal data before anything is logged (the rules live in contract/pii.py)."""

from __future__ import annotations

from contract.pii import MaskingFormatter, mask_pii

__all__ = ["MaskingFormatter", "mask_pii"]
