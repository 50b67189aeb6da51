import sys

from hook_kubectl.cli import main

sys.exit(main())
