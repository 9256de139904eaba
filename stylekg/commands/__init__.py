"""CLI command groups. Each module exposes ``register(app: typer.Typer)``; ``stylekg.cli`` finds them.

Keep heavy imports (torch, transformers) inside command functions so ``--help`` stays fast.
"""
