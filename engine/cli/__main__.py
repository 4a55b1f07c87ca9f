"""``python -m engine.cli …`` runs licit, as the installed ``licit`` command does."""
from engine.cli import main

if __name__ == "__main__":
    main()
