from loyalty.cli import main

raise SystemExit(main())
