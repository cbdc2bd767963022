"""Typer commands: parse arguments, call a service, render output. No domain logic here."""
