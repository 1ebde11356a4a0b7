import sys

from dag_factory.cli import main

sys.exit(main())
