import sys

from qqbus.cli import main

sys.exit(main())
