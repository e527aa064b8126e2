"""`python -m connector` → the `sis-sync` command line."""

from connector.cli import main

main()
