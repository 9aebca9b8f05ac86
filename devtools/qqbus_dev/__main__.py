import sys

from qqbus_dev.cli import main

sys.exit(main())
