from dag_factory.cli import main
import sys

sys.exit(main())
