import sys

from chatcert.cli import main

sys.exit(main())
