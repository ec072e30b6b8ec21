from govcloud.cli import main

main()
