from vvv.cli import main

raise SystemExit(main())
