from secretary.cli.main import main

main()
