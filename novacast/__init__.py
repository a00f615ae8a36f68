"""The entry point: the `novacast` command line, wiring, and the embedded Redis."""
