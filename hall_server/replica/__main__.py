import sys

from .copier import main

sys.exit(main())
