"""Test harness: starts the real system (see deploy/stack.py)."""
