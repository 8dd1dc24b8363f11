"""``python -m n4d4d ...``: the same command line as the ``n4d4d`` script (:func:`n4d4d.cli.main`)."""

from n4d4d.cli import main

if __name__ == "__main__":
    main()
