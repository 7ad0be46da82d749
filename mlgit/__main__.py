"""`python -m mlgit`."""

from mlgit._entry import main

if __name__ == "__main__":
    main()
