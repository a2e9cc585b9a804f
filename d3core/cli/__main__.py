from d3core.cli import main

main()
