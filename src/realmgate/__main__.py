import sys

from realmgate.cli.main import main

sys.exit(main())
