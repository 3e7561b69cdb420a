"""Subcommand groups of the `safellava` CLI; each module exposes `register(subparsers)`."""
