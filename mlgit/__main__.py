"""`python -m mlgit`."""

from mlgit.quick import main

if __name__ == "__main__":
    main()
