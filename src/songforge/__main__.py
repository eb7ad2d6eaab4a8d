"""`python -m songforge ...` is the same as the `songforge` command."""

from songforge.cli.main import main

main()
