import sys

from nfref.report.cli import main

sys.exit(main())
