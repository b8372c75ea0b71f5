from timbral.cli import main

raise SystemExit(main())
