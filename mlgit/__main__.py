"""`python -m mlgit`."""

from mlgit.cli import main

if __name__ == "__main__":
    main()
