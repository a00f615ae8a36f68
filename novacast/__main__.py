from novacast.cli import main

main()
